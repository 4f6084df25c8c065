"""A local fake of the Telegram Bot API, good enough for the real python-telegram-bot.

Point PTB at it with ``base_url=f"{url}/bot"`` and ``base_file_url=f"{url}/file/bot"``.
State lives behind a ``threading.Lock``: the aiohttp app runs in a ``ServerThread`` loop
while tests inspect and push from any other thread or loop.

Telegram-like details worth knowing: message ids are per chat and shared by pushed (user)
and bot messages; a new getUpdates ends an older pending long-poll with 409 Conflict; calls
are recorded on arrival (``Call.status`` is 0 until answered); ``parse_mode`` text is stored
verbatim (no markup parsing).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeGuard

from aiohttp import web

from tests.peers.serve import ServerThread, wait_until, wait_until_sync
from tests.peers.telegram_webhook import Post, WebhookDelivery

logger = logging.getLogger(__name__)

__all__ = ["Call", "FakeTelegram", "Post", "TelegramApiError", "utf16_len"]

JSON = dict[str, Any]
Upload = tuple[str, bytes, str]  # (filename, data, content type)

ENTITY_TYPES = frozenset(
    "mention hashtag cashtag bot_command url email phone_number bold italic underline "
    "strikethrough spoiler blockquote expandable_blockquote code pre text_link text_mention "
    "custom_emoji date_time".split()
)
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
STRING_FIELDS = frozenset(  # never JSON-decoded: text "123" stays a string
    "text caption file_id action parse_mode url title description short_description name "
    "emoji inline_message_id callback_query_id language_code business_connection_id".split()
)
UPLOAD_KINDS = {
    "sendvoice": "voice",
    "sendaudio": "audio",
    "senddocument": "document",
    "sendphoto": "photo",
}
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files: "file is too big"
UPLOAD_LIMITS = {"photo": 10 * 1024 * 1024, "document": 50 * 1024 * 1024}
TRUE_METHODS = frozenset(
    "setchatmenubutton setmessagereaction deletemessage answercallbackquery "
    "setmydescription setmyshortdescription".split()
)
UPLOAD_MIME = {
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
    "photo": "image/jpeg",
}
WEBHOOK_ACTIVE = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"  # noqa: E501
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"  # noqa: E501


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def decode_value(key: str, raw: str) -> Any:
    """Decode one form field the way Bot API does: JSON for non-string values."""
    stripped = raw.strip()
    if (
        key not in STRING_FIELDS
        and stripped
        and (stripped[0] in "[{-0123456789" or stripped in ("true", "false", "null"))
    ):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return raw


def _scope_key(scope: Any) -> str:
    """A BotCommandScope as a dict key; no scope and the default scope are the same."""
    if not isinstance(scope, dict) or scope.get("type", "default") == "default":
        return ""
    return json.dumps(scope, sort_keys=True)


class TelegramApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {description}")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entities(text: str, entities: Any) -> list[JSON]:
    """Validate ``entities`` against ``text`` as Telegram does; return them as a list."""
    if entities is None or entities == []:
        return []
    if not isinstance(entities, list):
        raise _bad("can't parse entities: entities must be an array")
    size = utf16_len(text)
    for i, ent in enumerate(entities):
        where = f"can't parse entities: entity {i}"
        if not isinstance(ent, dict) or ent.get("type") not in ENTITY_TYPES:
            raise _bad(f"{where}: unsupported entity type")
        offset, length = ent.get("offset"), ent.get("length")
        if not (_is_int(offset) and _is_int(length) and offset >= 0 and length > 0):
            raise _bad(f"{where}: wrong offset or length")
        if offset + length > size:
            raise _bad(f"{where}: entity is beyond the end of the text")
        if ent["type"] == "text_link" and not ent.get("url"):
            raise _bad(f"{where}: text_link entity must have url")
    return entities


def check_markdown_v2(text: str) -> None:
    """Minimal MarkdownV2 sanity check: unescaped reserved characters / unclosed markup."""
    body = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.S)  # code: only ` and \ special
    body = re.sub(r"\]\((?:\\.|[^)\\])*\)", "]", body)  # link targets
    counts = {"*": 0, "_": 0, "~": 0}
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i += 2
            continue
        at_line_start = i == 0 or body[i - 1] == "\n" or body[max(0, i - 2) : i] == "**"
        if ch in counts:
            counts[ch] += 1
        elif ch == "|" and body[i : i + 2] == "||":
            i += 1
        elif ch in "#+-=.!{}()|" or (ch == ">" and not at_line_start):
            raise _bad(
                f"can't parse entities: Character '{ch}' is reserved and must be "
                "escaped with the preceding '\\'"
            )
        i += 1
    for ch, n in counts.items():
        if n % 2:
            raise _bad(f"can't parse entities: Can't find end of the entity starting with '{ch}'")


def check_text(params: JSON, key: str = "text", limit: int = 4096) -> tuple[str, list[JSON]]:
    text = params.get(key)
    if not isinstance(text, str) or not text.strip():
        if key == "caption":
            return "", []
        raise _bad("message text is empty")
    if utf16_len(text) > limit:
        raise _bad("message is too long" if key == "text" else "message caption is too long")
    entities = check_entities(text, params.get("entities" if key == "text" else "caption_entities"))
    parse_mode = params.get("parse_mode")
    if parse_mode and not entities:
        if parse_mode not in ("MarkdownV2", "Markdown", "HTML"):
            raise _bad(f"unsupported parse_mode {parse_mode!r}")
        if parse_mode == "MarkdownV2":
            check_markdown_v2(text)
    return text, entities


@dataclass
class Call:
    method: str  # as the client spelled it
    params: JSON  # decoded parameters; uploaded files as bytes
    time: float  # time.monotonic() on arrival
    status: int  # HTTP status; 0 while a long-poll is still in flight
    chat_id: int | None


class FakeTelegram:
    """Telegram Bot API fake; see module docstring. All public methods are thread safe."""

    def __init__(
        self, token: str = "123456:TEST-TOKEN", bot_username: str = "test_bot", bot_id: int = 123456
    ) -> None:
        self._token, self.bot_username, self.bot_id = token, bot_username, bot_id
        self.unsupported_methods: set[str] = set()  # answered with 404 like unknown methods
        self._lock = threading.Lock()
        self._delivered = threading.Condition(self._lock)  # notified on each sendMessage
        self._closing = False
        self._calls: list[Call] = []
        self._pending: list[JSON] = []  # unconfirmed updates, sorted by update_id
        self._all_updates: dict[int, JSON] = {}
        self._next_update_id = 1000
        self._confirmed_offset = 0
        self._poll_generation = 0
        self.expired_polls = 0  # getUpdates answered empty because their timeout ran out
        self._allowed_updates: list[str] = []  # getUpdates' allowed_updates, as Telegram keeps it
        self._waiters: set[asyncio.Event] = set()  # touched only in the server loop
        self._message_ids: dict[int, int] = {}  # per chat, shared by user and bot messages
        self._messages: dict[tuple[int, Any], JSON] = {}  # every message by (chat, id)
        self._sent: list[JSON] = []  # successful sendMessage results (edited in place)
        self._sent_times: dict[int, list[float]] = {}  # arrival of each one, per chat
        self._forums: set[int] = set()
        self._drafts: list[JSON] = []
        self._actions: list[tuple[int, str]] = []
        self._uploads: list[tuple[int, str, bytes]] = []
        self._upload_names: list[tuple[int, str, str]] = []  # (chat, method, file name)
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self._failures: dict[str, list[TelegramApiError]] = {}
        self._commands: dict[str, list[JSON]] = {}  # by scope (json), "" for the default
        self._delivered_at: dict[int, float] = {}  # update_id -> first getUpdates answer
        self._webhook = WebhookDelivery(self)  # setWebhook: updates are POSTed, not polled
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.on_shutdown.append(self._on_shutdown)
        self._server = ServerThread(app)

    def start(self) -> str:
        return self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def token(self) -> str:
        return self._token

    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Test Bot",
            "username": self.bot_username,
        }

    # -- test side: incoming traffic ----------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue a raw update (``update_id`` assigned if missing); returns its update_id."""
        update = copy.deepcopy(update)
        with self._lock:
            uid = int(update.setdefault("update_id", self._next_update_id))
            self._next_update_id = max(self._next_update_id, uid + 1)
            msg = update.get("message")
            if isinstance(msg, dict) and "chat" in msg and "message_id" in msg:
                self._messages[(msg["chat"]["id"], msg["message_id"])] = msg
            self._all_updates[uid] = update
            self._enqueue(update)
        return uid

    def push_message(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        chat_type: str | None = None,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
        entities: list[JSON] | None = None,
        username: str = "alice",
        first_name: str = "Alice",
    ) -> int:
        message = self._user_message(chat_id, chat_type, user_id, username, first_name, thread_id)
        message["text"] = text
        if entities is None and text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return self.push_update({"message": message})

    def push_voice(
        self,
        chat_id: int,
        data: bytes,
        duration: int,
        user_id: int | None = None,
        mime_type: str = "audio/ogg",
    ) -> int:
        file_id = self.add_file(data)
        message = self._user_message(chat_id, None, user_id, "alice", "Alice", None)
        message["voice"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self.push_update({"message": message})

    def push_photo(
        self,
        chat_id: int,
        sizes: list[tuple[bytes, int, int]],
        caption: str | None = None,
        media_group_id: str | None = None,
        user_id: int | None = None,
        as_document: str | None = None,
        file_size: int | None = None,
        caption_entities: list[JSON] | None = None,
    ) -> int:
        """A photo: `sizes` are (JPEG data, width, height), smallest first, as Telegram sends
        them. `as_document` (a MIME type): the first size sent as an image file instead.
        `file_size` overrides the size the update declares (of the largest size)."""
        message = self._user_message(chat_id, None, user_id, "alice", "Alice", None)
        photo = []
        for data, width, height in sizes:
            file_id = self.add_file(data)
            size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}
            photo.append({**size, "width": width, "height": height})
        if file_size is not None:
            photo[-1]["file_size"] = file_size
        if as_document is not None:
            document = {k: v for k, v in photo[0].items() if k not in ("width", "height")}
            message["document"] = {**document, "mime_type": as_document, "file_name": "image"}
        else:
            message["photo"] = photo
        if caption is not None:
            message["caption"] = caption
        if caption_entities:
            message["caption_entities"] = caption_entities
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        return self.push_update({"message": message})

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str | None,
        mime_type: str | None = None,
        caption: str | None = None,
        user_id: int | None = None,
        file_size: int | None = None,
        chat_type: str | None = None,
    ) -> int:
        """A user sends a file; `file_size` overrides the size the update reports."""
        file_id = self.add_file(data)
        message = self._user_message(chat_id, chat_type, user_id, "alice", "Alice", None)
        document: JSON = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data) if file_size is None else file_size,
        }
        if file_name is not None:
            document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        message["document"] = document
        if caption is not None:
            message["caption"] = caption
        return self.push_update({"message": message})

    def push_callback_query(self, message: JSON, data: str, user_id: int) -> int:
        """A press of an inline button under `message` (a message the bot sent) by `user_id`."""
        with self._lock:
            query_id = f"cq{self._next_update_id}"
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def add_file(self, data: bytes, file_path: str | None = None) -> str:
        """Register a downloadable file (for getFile / voice updates); returns its file_id."""
        with self._lock:
            return self._new_file(data, file_path)

    def requeue(self, update_id: int) -> None:
        """Make an already-confirmed update deliverable again (Telegram re-delivery)."""
        with self._lock:
            if all(u["update_id"] != update_id for u in self._pending):
                self._enqueue(self._all_updates[update_id])

    def fail_next(
        self,
        method: str,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with this error instead of running."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else HTTPStatus(status).phrase
            )
        with self._lock:
            queue = self._failures.setdefault(method.lower(), [])
            queue.extend(TelegramApiError(status, description, retry_after) for _ in range(times))

    # -- test side: inspection ----------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [
                copy.copy(c)
                for c in self._calls
                if method is None or c.method.lower() == method.lower()
            ]

    def delivered_at(self, update_id: int) -> float | None:
        """time.monotonic() when a getUpdates answer first carried this update."""
        with self._lock:
            return self._delivered_at.get(update_id)

    def webhook_posts(self) -> list[Post]:
        """Every POST of an update to the webhook so far, with its HTTP status."""
        with self._lock:
            return list(self._webhook.posts)

    def webhook_info(self) -> JSON:
        with self._lock:
            return self._webhook.info()

    def get_updates_calls(self) -> list[Call]:
        return self.calls("getUpdates")

    @property
    def confirmed_offset(self) -> int:
        with self._lock:
            return self._confirmed_offset

    def pending_updates(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._pending)

    @property
    def commands(self) -> list[JSON]:
        """The menu set for everyone (setMyCommands without a scope)."""
        return self.commands_for(None)

    def commands_for(self, scope: JSON | None) -> list[JSON]:
        """The menu set for one scope, e.g. {"type": "chat", "chat_id": 42}."""
        with self._lock:
            return copy.deepcopy(self._commands.get(_scope_key(scope), []))

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        with self._lock:
            return copy.deepcopy([m for m in self._sent if chat_id in (None, m["chat"]["id"])])

    def sent_counts(self) -> dict[int, int]:
        """How many messages were sent to each chat (no copies of messages: for busy polling)."""
        with self._lock:
            return {chat: len(times) for chat, times in self._sent_times.items()}

    def sent_count(self, chat_id: int) -> int:
        """How many messages were sent to one chat, in constant time (for busy polling)."""
        with self._lock:
            return len(self._sent_times.get(chat_id, ()))

    def wait_sent(self, chat_id: int, count: int, timeout: float) -> bool:
        """Block until `count` messages have been sent to the chat (False on timeout): a
        waiter that is woken, not one that polls."""
        with self._delivered:
            return self._delivered.wait_for(
                lambda: len(self._sent_times.get(chat_id, ())) >= count, timeout
            )

    def sent_times(self, chat_id: int) -> list[float]:
        """time.monotonic() on arrival of each successful sendMessage to this chat, in order."""
        with self._lock:
            return list(self._sent_times.get(chat_id, ()))

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in self.sent_messages(chat_id)]

    def drafts(self, chat_id: int | None = None) -> list[JSON]:
        with self._lock:
            return copy.deepcopy([d for d in self._drafts if chat_id in (None, d["chat_id"])])

    def chat_actions(self, chat_id: int | None = None) -> list[str]:
        with self._lock:
            return [a for c, a in self._actions if chat_id in (None, c)]

    def uploaded(self, chat_id: int | None = None) -> list[tuple[str, bytes]]:
        with self._lock:
            return [(m, d) for c, m, d in self._uploads if chat_id in (None, c)]

    def uploaded_names(self, chat_id: int | None = None) -> list[tuple[str, str]]:
        """(method, file name as uploaded) of each upload, in order."""
        with self._lock:
            return [(m, n) for c, m, n in self._upload_names if chat_id in (None, c)]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[JSON]:
        await wait_until(
            lambda: len(self.sent_messages(chat_id)) >= count,
            timeout,
            message=f"expected {count} messages in chat {chat_id} in {timeout}s",
        )
        return self.sent_messages(chat_id)

    def wait_for_messages_sync(self, chat_id: int, count: int, timeout: float = 10) -> list[JSON]:
        wait_until_sync(
            lambda: len(self.sent_messages(chat_id)) >= count,
            timeout,
            message=f"expected {count} messages in chat {chat_id} in {timeout}s",
        )
        return self.sent_messages(chat_id)

    # -- internals (callers hold the lock unless noted) ---------------------------------

    def _enqueue(self, update: JSON) -> None:
        self._pending.append(copy.deepcopy(update))
        self._pending.sort(key=lambda u: u["update_id"])
        if self._server.running:
            try:
                self._server.loop.call_soon_threadsafe(self._wake_all)
            except RuntimeError:  # loop closing: nobody is polling any more
                pass

    def _wake_all(self) -> None:  # server loop only
        for event in self._waiters:
            event.set()

    async def _on_shutdown(self, app: web.Application) -> None:
        with self._lock:
            self._closing = True
        self._wake_all()
        await self._webhook.close()

    def _new_file(self, data: bytes, file_path: str | None = None) -> str:
        n = len(self._files) + 1
        file_id = f"FILE-{n:04d}-{self.bot_id}"
        self._files[file_id] = (file_path or f"fake_tg_files/file_{n}", bytes(data))
        return file_id

    def _new_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _chat(self, chat_id: int, chat_type: str | None = None) -> JSON:
        chat: JSON = {
            "id": chat_id,
            "type": chat_type or ("private" if chat_id > 0 else "supergroup"),
        }
        if chat_id in self._forums:
            chat["is_forum"] = True
        return chat

    def _user_message(  # takes the lock itself
        self,
        chat_id: int,
        chat_type: str | None,
        user_id: int | None,
        username: str,
        first_name: str,
        thread_id: int | None,
    ) -> JSON:
        with self._lock:
            if thread_id is not None:
                self._forums.add(chat_id)
            chat, message_id = self._chat(chat_id, chat_type), self._new_message_id(chat_id)
        private = chat["type"] == "private"
        chat.update(
            {"first_name": first_name, "username": username}
            if private
            else {"title": f"Chat {chat_id}"}
        )
        uid = user_id if user_id is not None else (chat_id if private else 100)
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {
                "id": uid,
                "is_bot": False,
                "first_name": first_name,
                "username": username,
                "language_code": "en",
            },
        }
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
        return message

    @staticmethod
    def _chat_id(params: JSON) -> int:
        chat_id = params.get("chat_id")
        if not _is_int(chat_id):
            raise _bad("chat not found" if chat_id is not None else "chat_id is empty")
        return chat_id

    def _bot_message(self, params: JSON, **content: Any) -> JSON:
        chat_id = self._chat_id(params)
        msg: JSON = {
            "message_id": self._new_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self.bot_user(),
            **content,
        }
        if params.get("message_thread_id"):
            msg["message_thread_id"] = params["message_thread_id"]
            msg["is_topic_message"] = chat_id in self._forums
        reply = params.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        target = self._messages.get((chat_id, reply_id or params.get("reply_to_message_id")))
        if target is not None:
            msg["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
        if isinstance(params.get("reply_markup"), dict):
            msg["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, msg["message_id"])] = msg
        return msg

    # -- Bot API methods: _api_<lowercased name>(params, files, method), lock held -------

    def _api_getme(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_getwebhookinfo(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        return self._webhook.info()

    def _api_setwebhook(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        self._webhook.set(params)
        return True

    def _api_deletewebhook(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        self._webhook.set({"drop_pending_updates": params.get("drop_pending_updates")})
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        return True

    def _api_setmycommands(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        if not isinstance(params.get("commands"), list):
            raise _bad("commands must be an array")
        self._commands[_scope_key(params.get("scope"))] = params["commands"]
        return True

    def _api_getmycommands(self, params: JSON, files: dict[str, Upload], method: str) -> Any:
        return self._commands.get(_scope_key(params.get("scope")), [])

    def _api_deletemycommands(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        self._commands.pop(_scope_key(params.get("scope")), None)
        return True

    def _api_sendmessage(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        text, entities = check_text(params)
        msg = self._bot_message(params, text=text, **({"entities": entities} if entities else {}))
        self._sent.append(msg)
        return msg

    def _api_editmessagetext(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        msg = self._messages.get((self._chat_id(params), params.get("message_id")))
        if msg is None or msg["from"]["id"] != self.bot_id or "text" not in msg:
            raise _bad("message to edit not found")
        text, entities = check_text(params)
        markup = params.get("reply_markup")
        if (text, entities, markup) == (
            msg["text"],
            msg.get("entities", []),
            msg.get("reply_markup"),
        ):
            raise _bad(
                "message is not modified: specified new message content and reply "
                "markup of the current message are exactly the same"
            )
        msg.update(text=text, edit_date=int(time.time()))
        for key, value in (("entities", entities), ("reply_markup", markup)):
            msg.pop(key, None)
            if value:
                msg[key] = value
        return msg

    def _api_sendmessagedraft(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        chat_id = self._chat_id(params)
        if chat_id <= 0:
            raise _bad("draft can be sent only to private chats")
        if not params.get("draft_id"):
            raise _bad("draft_id must be non-zero")
        text, entities = check_text(params)
        self._drafts.append(
            {
                "chat_id": chat_id,
                "draft_id": params["draft_id"],
                "text": text,
                "entities": entities,
                "time": time.monotonic(),
                "message_thread_id": params.get("message_thread_id"),
            }
        )
        return True

    def _api_sendchataction(self, params: JSON, files: dict[str, Upload], method: str) -> bool:
        chat_id = self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._actions.append((chat_id, params["action"]))
        return True

    def _api_getfile(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self._files:
            raise _bad("invalid file_id")
        path, data = self._files[file_id]
        if len(data) > DOWNLOAD_LIMIT:
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    def _api_upload(self, params: JSON, files: dict[str, Upload], method: str) -> JSON:
        """sendVoice / sendAudio / sendDocument: multipart upload or a known file_id."""
        kind = UPLOAD_KINDS[method.lower()]
        chat_id = self._chat_id(params)
        if kind in files:
            name, data, content_type = files[kind]
        elif params.get(kind) in self._files:
            name, data, content_type = "", self._files[params[kind]][1], ""
        else:
            raise _bad(f"there is no {kind} in the request")
        caption, caption_entities = check_text(params, "caption", limit=1024)
        if kind in UPLOAD_LIMITS and len(data) > UPLOAD_LIMITS[kind]:
            raise TelegramApiError(413, "Request Entity Too Large")
        file_id = self._new_file(data, f"fake_tg_files/{kind}_{len(self._files) + 1}")
        media: JSON = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "mime_type": UPLOAD_MIME[kind],
        }
        if kind not in ("document", "photo"):
            media["duration"] = int(params.get("duration") or 0)
        if kind not in ("voice", "photo"):
            media.update(file_name=name or kind, mime_type=content_type or media["mime_type"])
        extra: JSON = {"caption": caption} if caption else {}
        if caption_entities:
            extra["caption_entities"] = caption_entities
        self._uploads.append((chat_id, method, data))
        self._upload_names.append((chat_id, method, name))
        if kind == "photo":  # Telegram answers with the sizes it made; one is enough here
            media.pop("mime_type")
            media.update(width=1, height=1)
            return self._bot_message(params, photo=[media], **extra)
        return self._bot_message(params, **{kind: media}, **extra)

    # -- HTTP layer ---------------------------------------------------------------------

    @staticmethod
    async def _parse(request: web.Request) -> tuple[JSON, dict[str, Upload]]:
        params: JSON = {k: decode_value(k, v) for k, v in request.query.items()}
        files: dict[str, Upload] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.filename, value.file.read(), value.content_type)
                    else:
                        raw = value.decode() if isinstance(value, bytes) else str(value)
                        params[key] = decode_value(key, raw)
        return params, files

    def _dispatch(self, key: str, token: str) -> Any:  # lock held
        if token != self._token:
            raise TelegramApiError(401, "Unauthorized")
        name = "upload" if key in UPLOAD_KINDS else key if key.isalpha() and key != "upload" else ""
        handler = getattr(self, f"_api_{name}", None) if name else None
        known = handler is not None or key in TRUE_METHODS or key == "getupdates"
        if not known or key in {m.lower() for m in self.unsupported_methods}:
            raise TelegramApiError(404, "Not Found")
        if self._failures.get(key):
            raise self._failures[key].pop(0)
        return handler

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        key = method.lower()
        try:
            params, files = await self._parse(request)
        except ConnectionResetError:  # the client gave up mid-request (e.g. a cancelled task)
            return web.Response(status=499)
        chat_id = params.get("chat_id")
        call = Call(
            method,
            {**params, **{k: f[1] for k, f in files.items()}},
            arrived,
            0,
            chat_id if _is_int(chat_id) else None,
        )
        try:
            with self._lock:
                self._calls.append(call)
                handler = self._dispatch(key, request.match_info["token"])
                result = copy.deepcopy(handler(params, files, method)) if handler else True
                if key == "sendmessage":  # the handler returned: the message was delivered
                    chat = self._sent[-1]["chat"]["id"]
                    self._sent_times.setdefault(chat, []).append(arrived)
                    self._delivered.notify_all()
            if key == "getupdates":
                with self._lock:
                    if self._webhook.hook is not None:
                        raise TelegramApiError(409, WEBHOOK_ACTIVE)
                result = await self._get_updates(params)
        except (ValueError, TypeError, KeyError) as exc:  # malformed parameters
            err = _bad(f"invalid parameters: {exc}")
            call.status = err.status
            return web.json_response(err.payload(), status=err.status)
        except TelegramApiError as err:
            logger.debug("fake telegram %s -> %s %s", method, err.status, err.description)
            call.status = err.status
            return web.json_response(err.payload(), status=err.status)
        call.status = 200
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        with self._lock:
            if allowed is not None:  # like Telegram: kept until a call names other types
                self._allowed_updates = list(allowed)
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_all()  # an older long-poll gets 409, like Telegram
        while True:
            event = asyncio.Event()
            with self._lock:
                if generation != self._poll_generation:
                    raise TelegramApiError(409, CONFLICT)
                if offset > 0:
                    self._confirmed_offset = max(self._confirmed_offset, offset)
                    self._pending = [u for u in self._pending if u["update_id"] >= offset]
                batch = [u for u in self._pending if u["update_id"] >= offset and self._wanted(u)][
                    :limit
                ]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._closing:
                    if not batch and remaining <= 0:
                        self.expired_polls += 1
                    now = time.monotonic()
                    for update in batch:
                        self._delivered_at.setdefault(update["update_id"], now)
                    return copy.deepcopy(batch)
                self._waiters.add(event)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(event)

    def _wanted(self, update: JSON) -> bool:
        """Whether getUpdates delivers this update: its type is in the last allowed_updates
        (an empty list or none given: every type but a few this server never makes)."""
        kinds = self._allowed_updates
        return not kinds or any(kind in update for kind in kinds)

    async def _download(self, request: web.Request) -> web.Response:
        with self._lock:
            found = [d for p, d in self._files.values() if p == request.match_info["path"]]
        if request.match_info["token"] != self._token or not found:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=found[0], content_type="application/octet-stream")
