"""A scriptable, validating OpenAI-compatible Chat Completions server for tests and benchmarks.

    fake = FakeOpenAI(api_key="sk-test")
    with fake as base_url:                 # "http://127.0.0.1:PORT/v1" -> AsyncOpenAI(base_url=)
        fake.enqueue(Reply.tool("search", q="x"), Reply(text="done"))
        ...
        assert not fake.invalid_requests

Every chat request is checked the way the real API checks it (roles, content shapes,
tool-call / tool-result pairing, tool definitions); a request that the real API would
reject gets a 400 in OpenAI's error shape and is recorded in ``invalid_requests``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import itertools
import json
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple

from aiohttp import web

from tests.peers.openai_audio import AudioState, add_audio_routes
from tests.peers.serve import ServerThread, wait_until, wait_until_sync

__all__ = [
    "MODEL_ID",
    "ChatRequestInvalid",
    "FakeOpenAI",
    "InvalidRequest",
    "Reply",
    "SeenImage",
    "images_in",
    "validate_chat_request",
]

MODEL_ID = "test-model"
_ROLES = ("system", "developer", "user", "assistant", "tool")
_MESSAGE_KEYS: dict[str, set[str]] = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    # "annotations" / "parsed" come back when the SDK re-sends a (Parsed)ChatCompletionMessage
    # taken from a response or from ChatCompletionStreamState.get_final_completion().
    "assistant": {
        "role",
        "content",
        "name",
        "tool_calls",
        "function_call",
        "refusal",
        "audio",
        "annotations",
        "parsed",
    },
    "tool": {"role", "content", "tool_call_id"},
}
_PART_TYPES: dict[str, set[str]] = {
    "system": {"text"},
    "developer": {"text"},
    "user": {"text", "image_url", "input_audio", "file"},
    "assistant": {"text", "refusal"},
    "tool": {"text"},
}
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MESSAGE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass
class Reply:
    """What the fake model answers to one chat request."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200  # != 200: answer with an error of this status in OpenAI's shape
    error_message: str = "injected error"
    error_code: str | None = None  # the error's `code` (e.g. "content_policy_violation")
    delay_s: float = 0.0  # wait before the response starts (on top of latency_s)
    chunk_delay_s: float = 0.0  # wait between streamed chunks
    hang: bool = False  # never answer (until the client disconnects or the server stops)
    usage: dict[str, int] | None = None  # override usage
    finish_reason: str | None = None

    @classmethod
    def tool(cls, name: str, /, **args: Any) -> Reply:
        """A reply that calls one tool with keyword ``args`` as its JSON arguments."""
        return cls(tool_calls=[(name, args)])

    @classmethod
    def error(cls, status: int, message: str = "injected error", code: str | None = None) -> Reply:
        return cls(status=status, error_message=message, error_code=code)

    @classmethod
    def content_filtered(cls, text: str = "") -> Reply:
        """A stream the provider's content filter stops (finish_reason "content_filter")."""
        return cls(text=text, finish_reason="content_filter")


class InvalidRequest(NamedTuple):
    """A rejected chat request: why (OpenAI-style message) and the parsed body."""

    reason: str
    body: dict[str, Any]


class ChatRequestInvalid(Exception):
    """Raised by :func:`validate_chat_request`; ``param`` is OpenAI's error ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


_Invalid = ChatRequestInvalid


def _error_body(
    message: str, status: int, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> web.Response:
    return web.json_response(_error_body(message, status, param, code), status=status)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return ""


def _check_content(content: Any, role: str, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _Invalid(
            f"Invalid type for '{where}.content': expected a string or an array of "
            f"content parts, but got {type(content).__name__}.",
            f"{where}.content",
        )
    if not content and role != "assistant":
        raise _Invalid(f"Invalid '{where}.content': empty array.", f"{where}.content")
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _PART_TYPES[role]:
            raise _Invalid(
                f"Invalid value for '{where}.content[{j}].type': {kind!r} is not "
                f"supported for role '{role}'.",
                f"{where}.content[{j}].type",
            )
        if kind in ("text", "refusal") and not isinstance(part.get(kind), str):
            raise _Invalid(
                f"Missing required parameter: '{where}.content[{j}].{kind}'.",
                f"{where}.content[{j}].{kind}",
            )
        if kind == "image_url":
            decode_image_part(part, f"{where}.content[{j}]")


@dataclass(frozen=True)
class SeenImage:
    """An image a chat request carried, decoded the way the real API decodes it."""

    mime_type: str
    width: int
    height: int
    detail: str | None
    size: int  # bytes after base64 decoding


_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|webp|gif));base64,([A-Za-z0-9+/=]+)$")
_PIL_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def decode_image_part(part: dict[str, Any], where: str = "image_url") -> SeenImage:
    """Check an `image_url` part as OpenAI does (a data URL must hold a real image of the
    type it names); raise ChatRequestInvalid otherwise."""
    from PIL import Image  # the test dependency only this check needs

    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str):
        raise _Invalid(f"Missing required parameter: '{where}.image_url.url'.", where)
    detail = image_url.get("detail") if isinstance(image_url, dict) else None
    if detail not in (None, "low", "high", "auto"):
        raise _Invalid(f"Invalid value for '{where}.image_url.detail': {detail!r}.", where)
    match = _DATA_URL.match(url)
    if match is None:
        raise _Invalid(
            f"Invalid '{where}.image_url.url': expected a base64-encoded data URL with an "
            "image MIME type (like 'data:image/png;base64,...').",
            where,
        )
    try:
        data = base64.b64decode(match.group(2), validate=True)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind, (width, height) = _PIL_TYPES.get(image.format or ""), image.size
    except (binascii.Error, OSError, ValueError, SyntaxError):
        kind, width, height = None, 0, 0
    if kind != match.group(1):
        raise _Invalid(
            "You uploaded an unsupported image. Please make sure your image is valid.", where
        )
    return SeenImage(match.group(1), width, height, detail, len(data))


def images_in(body: dict[str, Any]) -> list[SeenImage]:
    """Every image of a chat request, in order."""
    return [
        decode_image_part(part)
        for msg in body.get("messages") or []
        if isinstance(msg.get("content"), list)
        for part in msg["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    ]


def _check_tool_calls(calls: Any, where: str) -> list[str]:
    if not isinstance(calls, list) or not calls:
        raise _Invalid(
            f"Invalid '{where}.tool_calls': expected a non-empty array.", f"{where}.tool_calls"
        )
    ids: list[str] = []
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call["id"]:
            raise _Invalid(f"Missing required parameter: '{at}.id'.", f"{at}.id")
        if call.get("type") != "function":
            raise _Invalid(f"Invalid value for '{at}.type': expected 'function'.", f"{at}.type")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _Invalid(
                f"Missing required parameter: '{at}.function.name'.", f"{at}.function.name"
            )
        if not isinstance(fn.get("arguments"), str):
            raise _Invalid(
                f"Invalid type for '{at}.function.arguments': expected a string.",
                f"{at}.function.arguments",
            )
        ids.append(call["id"])
    return ids


def _check_messages(messages: Any, strict_keys: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise _Invalid("Invalid 'messages': expected a non-empty array.", "messages")
    awaiting: list[str] = []  # tool_call_ids of the open assistant message not answered yet
    block: set[str] | None = None  # ids answerable right now (we are just after tool_calls)
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in _ROLES:
            raise _Invalid(
                f"Invalid value for '{where}.role': {role!r}. Supported values are: "
                + ", ".join(repr(r) for r in _ROLES)
                + ".",
                f"{where}.role",
            )
        assert isinstance(msg, dict) and isinstance(role, str)
        extra = sorted(set(msg) - _MESSAGE_KEYS[role])
        if extra and strict_keys:
            raise _Invalid(
                f"Additional properties are not allowed ({', '.join(map(repr, extra))}"
                f" was unexpected) - '{where}'",
                where,
            )
        name = msg.get("name")
        if name is not None and not (isinstance(name, str) and _MESSAGE_NAME.match(name)):
            raise _Invalid(
                f"Invalid '{where}.name': string does not match pattern.", f"{where}.name"
            )
        if role != "tool" and awaiting:
            raise _Invalid(
                "An assistant message with 'tool_calls' must be followed by tool "
                "messages responding to each 'tool_call_id'. The following "
                f"tool_call_ids did not have response messages: {', '.join(awaiting)}",
                f"{where}.role",
            )
        content = msg.get("content")
        tool_calls = msg.get("tool_calls")
        if role == "assistant":
            if content is None and tool_calls is None:
                raise _Invalid(
                    f"Invalid '{where}': an assistant message needs 'content' or 'tool_calls'.",
                    f"{where}.content",
                )
            if content is not None:
                _check_content(content, role, where)
            block = None
            if tool_calls is not None:
                awaiting = _check_tool_calls(tool_calls, where)
                block = set(awaiting)
            continue
        if content is None:
            raise _Invalid(f"Missing required parameter: '{where}.content'.", f"{where}.content")
        _check_content(content, role, where)
        if role != "tool":
            block = None
            continue
        call_id = msg.get("tool_call_id")
        if not isinstance(call_id, str):
            raise _Invalid(
                f"Missing required parameter: '{where}.tool_call_id'.", f"{where}.tool_call_id"
            )
        if block is None or call_id not in block:
            raise _Invalid(
                "Invalid parameter: messages with role 'tool' must be a response to "
                f"a preceeding message with 'tool_calls' ({call_id!r} is not one).",
                f"{where}.role",
            )
        if call_id in awaiting:
            awaiting.remove(call_id)
    if awaiting:
        raise _Invalid(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not "
            f"have response messages: {', '.join(awaiting)}",
            "messages",
        )


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            raise _Invalid("Invalid 'tools': expected a non-empty array.", "tools")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type") != "function"
                or not isinstance(fn, dict)
            ):
                raise _Invalid(
                    f"Invalid 'tools[{i}]': expected {{'type': 'function', 'function': {{...}}}}.",
                    f"tools[{i}]",
                )
            name = fn.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.match(name):
                raise _Invalid(
                    f"Invalid 'tools[{i}].function.name': string does not match "
                    "pattern '^[a-zA-Z0-9_-]{1,64}$'.",
                    f"tools[{i}].function.name",
                )
            if name in names:
                raise _Invalid(f"Invalid 'tools': duplicate function name {name!r}.", "tools")
            names.add(name)
            if "description" in fn and not isinstance(fn["description"], str):
                raise _Invalid(
                    f"Invalid type for 'tools[{i}].function.description'.",
                    f"tools[{i}].function.description",
                )
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                raise _Invalid(
                    f"Invalid type for 'tools[{i}].function.parameters'.",
                    f"tools[{i}].function.parameters",
                )
    choice = body.get("tool_choice")
    if choice is not None:
        if tools is None:
            raise _Invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                "'tools' are specified.",
                "tool_choice",
            )
        if isinstance(choice, dict):
            chosen = (choice.get("function") or {}).get("name")
            if choice.get("type") != "function" or chosen not in names:
                raise _Invalid(f"Invalid 'tool_choice': no tool named {chosen!r}.", "tool_choice")
        elif choice not in ("none", "auto", "required"):
            raise _Invalid(f"Invalid value for 'tool_choice': {choice!r}.", "tool_choice")


def validate_chat_request(body: Any, strict_keys: bool = True) -> None:
    """Raise :class:`ChatRequestInvalid` when the real Chat Completions API would answer 400.

    ``strict_keys`` also rejects unknown message keys (e.g. a stored ``created_at``): the API
    used to answer "Additional properties are not allowed"; today it may silently ignore them.
    """
    if not isinstance(body, dict):
        raise _Invalid("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _Invalid("you must provide a model parameter", "model")
    _check_messages(body.get("messages"), strict_keys)
    _check_tools(body)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _Invalid("Invalid type for 'stream': expected a boolean.", "stream")
    if body.get("stream_options") is not None and not stream:
        raise _Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )


def _check_no_blank_user_message(body: dict[str, Any]) -> None:
    for i, msg in enumerate(body.get("messages") or []):
        text = msg.get("content")
        if (
            msg.get("role") == "user"
            and isinstance(text, str)
            and not "".join(
                c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc")
            )
        ):
            raise _Invalid(
                f"Invalid 'messages[{i}].content': a user message must not be empty.",
                f"messages[{i}].content",
            )


def _prompt_chars(body: dict[str, Any]) -> int:
    total = 0
    for msg in body.get("messages") or []:
        total += len(_content_text(msg.get("content")))
        if isinstance(msg.get("content"), list):  # an image: 85 tokens at least
            total += 4 * 85 * sum(1 for p in msg["content"] if p.get("type") == "image_url")
        for call in msg.get("tool_calls") or []:
            total += len(str((call.get("function") or {}).get("arguments") or ""))
    return total


class FakeOpenAI:
    """Local OpenAI-compatible server; thread safe (state behind ``self._lock``)."""

    def __init__(
        self,
        api_key: str | None = None,
        latency_s: float = 0.0,
        chunk_chars: int = 20,
        strict_keys: bool = True,
        reject_blank: bool = False,
    ) -> None:
        self.api_key = api_key
        # False: like a text-only model, a request with an image part is a 400.
        self.vision = True
        # Like several OpenAI-compatible providers: a user message without visible text
        # (whitespace, zero-width characters) is a 400. OpenAI itself accepts it.
        self.reject_blank = reject_blank
        self.latency_s = latency_s
        self.chunk_chars = chunk_chars
        self.strict_keys = strict_keys
        self._lock = threading.Lock()
        self._first_token_times: list[float] = []  # monotonic time of each stream's first token
        self.audio = AudioState()  # transcription/speech behaviour and records
        self._timings: list[tuple[float, float]] = []  # (arrival, response end) per chat request
        self._queue: deque[Reply] = deque()
        self._handler: Callable[[dict[str, Any]], Reply] | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: ServerThread | None = None
        self._requests: list[dict[str, Any]] = []
        self._invalid: list[InvalidRequest] = []
        self._auth_headers: list[str | None] = []
        self._in_flight = 0
        self._max_in_flight = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port; return the base URL including ``/v1``."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI already started")
        app = web.Application(client_max_size=64 * 2**20)  # audio uploads
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        add_audio_routes(app, self.audio, self._authorized, _error)
        app.on_shutdown.append(self._cancel_in_flight)
        self._server = ServerThread(app, shutdown_timeout=0.5)
        return self._server.start() + "/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._server.url + "/v1"

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def set_handler(self, fn: Callable[[dict[str, Any]], Reply] | None) -> None:
        with self._lock:
            self._handler = fn

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Parsed bodies of all chat requests (valid or not), in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[dict[str, Any]]:
        return self.requests

    def last_request(self) -> dict[str, Any]:
        with self._lock:
            if not self._requests:
                raise AssertionError("no chat request received")
            return self._requests[-1]

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def invalid_requests(self) -> list[InvalidRequest]:
        with self._lock:
            return list(self._invalid)

    @property
    def authorization_headers(self) -> list[str | None]:
        with self._lock:
            return list(self._auth_headers)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def timings(self) -> list[tuple[float, float]]:
        """(arrival, response end) of each chat request, time.monotonic()."""
        with self._lock:
            return list(self._timings)

    @property
    def first_token_times(self) -> list[float]:
        """When each streamed reply's first content token was written (time.monotonic)."""
        with self._lock:
            return list(self._first_token_times)

    def reset_stats(self) -> None:
        """Forget recorded requests and counters (not the queue, handler or in-flight count)."""
        with self._lock:
            self._timings.clear()
            self._first_token_times.clear()
            self._requests.clear()
            self._invalid.clear()
            self._auth_headers.clear()
            self._max_in_flight = self._in_flight

    async def wait_for_requests(
        self,
        n: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - polls, like wait_until
    ) -> list[dict[str, Any]]:
        try:
            await wait_until(lambda: self.request_count >= n, timeout)
        except AssertionError:
            raise AssertionError(
                f"expected {n} chat requests within {timeout}s, got {self.request_count}"
            ) from None
        return self.requests

    def wait_for_requests_sync(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        try:
            wait_until_sync(lambda: self.request_count >= n, timeout)
        except AssertionError:
            raise AssertionError(
                f"expected {n} chat requests within {timeout}s, got {self.request_count}"
            ) from None
        return self.requests

    # -- server side ----------------------------------------------------------------------

    async def _cancel_in_flight(self, app: web.Application) -> None:
        with self._lock:
            tasks = list(self._tasks)
        for task in tasks:
            task.cancel()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization")
        with self._lock:
            self._auth_headers.append(header)
        return self.api_key is None or header == f"Bearer {self.api_key}"

    @staticmethod
    async def _pause(request: web.Request, seconds: float) -> bool:
        """Sleep ``seconds`` (forever if inf); False as soon as the client has gone away."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if request.transport is None or request.transport.is_closing():
                return False
            await asyncio.sleep(min(left, 0.02))
        return request.transport is not None

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        await self._pause(request, self.latency_s)
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "test"}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        started = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if task is not None:
                self._tasks.add(task)
        try:
            return await self._handle_chat(request)
        except ConnectionError:  # the client went away
            return web.Response(status=499)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._timings.append((started, time.monotonic()))
                if task is not None:
                    self._tasks.discard(task)

    async def _handle_chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(body if isinstance(body, dict) else {"_unparsed": body})
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            validate_chat_request(body, self.strict_keys)
            if self.reject_blank:
                _check_no_blank_user_message(body)
            if not self.vision and images_in(body):
                raise _Invalid(
                    "Invalid content type. image_url is only supported by certain models.",
                    "messages",
                )
        except ChatRequestInvalid as exc:
            with self._lock:
                self._invalid.append(
                    InvalidRequest(
                        exc.message, body if isinstance(body, dict) else {"_unparsed": body}
                    )
                )
            return _error(400, exc.message, exc.param)
        reply = self._next_reply(body)
        if not await self._pause(request, self.latency_s + reply.delay_s):
            return web.Response(status=499)
        if reply.hang:
            await self._pause(request, float("inf"))
            return web.Response(status=499)
        if reply.status != 200:
            return _error(reply.status, reply.error_message, code=reply.error_code)
        if body.get("stream"):
            return await self._stream(request, body, reply)
        return web.json_response(self._completion(body, reply))

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            handler = self._handler
        if handler is not None:
            return handler(body)
        users = [m.get("content") for m in body["messages"] if m.get("role") == "user"]
        return Reply(text=f"echo: {_content_text(users[-1] if users else '')}")

    def _calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        """(id, name, arguments-json) for each tool call of ``reply``."""
        return [
            (f"call_{next(self._ids)}", name, args if isinstance(args, str) else json.dumps(args))
            for name, args in reply.tool_calls
        ]

    def _usage(self, body: dict[str, Any], reply: Reply, output_chars: int) -> dict[str, int]:
        if reply.usage is not None:
            return dict(reply.usage)
        prompt = max(1, _prompt_chars(body) // 4)
        completion = max(1, output_chars // 4)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        calls = self._calls(reply)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text or None,
            "refusal": None,
            "annotations": [],
        }
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        out = len(reply.text) + sum(len(args) for _, _, args in calls)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop"),
                }
            ],
            "usage": self._usage(body, reply, out),
        }

    def _chunks(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed reply, as OpenAI sends them."""
        calls = self._calls(reply)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }
        step = max(1, self.chunk_chars)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            out = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return {**out, "usage": None} if include_usage else out

        chunks = [
            chunk({"role": "assistant", "content": "" if reply.text else None, "refusal": None})
        ]
        chunks += [
            chunk({"content": reply.text[i : i + step]}) for i in range(0, len(reply.text), step)
        ]
        for index, (cid, name, args) in enumerate(calls):
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": cid,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            chunks += [
                chunk(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": args[i : i + step]}}
                        ]
                    }
                )
                for i in range(0, len(args), step)
            ]
        chunks.append(chunk({}, reply.finish_reason or ("tool_calls" if calls else "stop")))
        if include_usage:
            out = len(reply.text) + sum(len(args) for _, _, args in calls)
            chunks.append({**base, "choices": [], "usage": self._usage(body, reply, out)})
        return chunks

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            first = True
            token_seen = False
            for chunk in self._chunks(body, reply):
                if (
                    not first
                    and reply.chunk_delay_s > 0
                    and not await self._pause(request, reply.chunk_delay_s)
                ):
                    return response
                first = False
                if not token_seen and any(c["delta"].get("content") for c in chunk["choices"]):
                    token_seen = True
                    with self._lock:
                        self._first_token_times.append(time.monotonic())
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionError:  # the client went away mid-stream
            pass
        return response
