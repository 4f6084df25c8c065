"""Thin python-telegram-bot handlers: each turns an Update into an inbox item or a notice.

The handlers are plain functions of (`Front`, update, context); `register` wires them all,
in one place, with what they need bound in. They never call the model or the store
themselves: `Front.intake` stores and queues, `Front.access` says who may talk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from src.access import Access
from src.channels.telegram import texts
from src.channels.telegram.access import RefusalThrottle
from src.channels.telegram.approvals import PREFIX as APPROVAL
from src.channels.telegram.approvals import TelegramApprover
from src.channels.telegram.buttons import approval_button, reminder_button
from src.channels.telegram.documents import document_extra
from src.channels.telegram.groups import addressed_text, replies_to_bot, with_reply_context
from src.channels.telegram.ids import conversation_id, thread_id
from src.channels.telegram.intake import Intake
from src.channels.telegram.reminders import CANCEL, Reminders
from src.channels.telegram.sender import as_seconds
from src.channels.telegram.voice import media_extra
from src.conversation.visible import is_blank
from src.errors import ConversationError, UserInputError
from src.ops import metrics
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

COMMANDS = {
    "start": "Start talking to the assistant",
    "help": "What I can do",
    "reset": "Forget this conversation",
}

SCHEDULER_COMMANDS = {  # with scheduler.enabled
    "reminders": "Your scheduled reminders and tasks in this chat",
    "timezone": "Show or set your time zone",
}

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class Front:
    """What the handlers need: who may talk, where messages go, and two settings."""

    access: Access
    intake: Intake
    refusals: RefusalThrottle
    group_mode: str
    voice_enabled: bool
    documents_enabled: bool = False
    reminders: Reminders | None = None  # scheduler.enabled
    approvals: TelegramApprover | None = None  # the buttons under approval questions


def register(application: Application, front: Front, coordinator_commands: Iterable[str]) -> None:
    """Every handler of the bot, in the order python-telegram-bot tries them."""

    def bound(
        handler: Callable[[Front, Update, Context], Coroutine[Any, Any, None]],
    ) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
        return partial(handler, front)

    new = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", bound(start), filters=new))
    application.add_handler(CommandHandler("help", bound(help_command), filters=new))
    application.add_handler(CommandHandler("reset", bound(reset), filters=new))
    application.add_handler(CommandHandler("tools", bound(tools), filters=new))
    if front.reminders is not None:
        for name in SCHEDULER_COMMANDS:
            application.add_handler(CommandHandler(name, bound(channel_command), filters=new))
        application.add_handler(CallbackQueryHandler(bound(reminder_button), pattern=f"^{CANCEL}"))
    if front.approvals is not None:
        pattern = f"^{APPROVAL}"
        application.add_handler(CallbackQueryHandler(bound(approval_button), pattern=pattern))
    for name in coordinator_commands:  # channel-independent commands (/agent, ...)
        application.add_handler(CommandHandler(name, bound(coordinator_command), filters=new))
    application.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, bound(text)))
    application.add_handler(MessageHandler(new & filters.COMMAND, bound(unknown_command)))
    recordings = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE
    application.add_handler(MessageHandler(new & recordings, bound(recording)))
    if front.documents_enabled:  # images sent as files are photos, not documents
        files = filters.Document.ALL & ~filters.Document.IMAGE
        application.add_handler(MessageHandler(new & files, bound(document)))
    application.add_handler(MessageHandler(new, bound(other)))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))
    application.add_error_handler(error)


# -- the handlers ------------------------------------------------------------------------


async def start(front: Front, update: Update, context: Context) -> None:
    """/start; a stranger's `/start <code>` in a private chat redeems an invitation."""
    message, user = update.effective_message, update.effective_user
    code = context.args[0] if context.args else ""
    if (
        code
        and message is not None
        and message.chat.type == "private"
        and user is not None
        and not user.is_bot
        and not front.access.is_allowed(user.id)
    ):
        await _redeem(front, update, code)
    elif _admit(front, update):
        _notice(front, update, "Hi! " + _help(front))


async def help_command(front: Front, update: Update, _: Context) -> None:
    if _admit(front, update):
        _notice(front, update, _help(front))


async def unknown_command(front: Front, update: Update, _: Context) -> None:
    if _admit(front, update):
        _notice(front, update, texts.UNKNOWN_COMMAND)


async def reset(front: Front, update: Update, _: Context) -> None:
    if _admit(front, update):
        await _accept(front, update, "reset", "")


async def coordinator_command(front: Front, update: Update, _: Context) -> None:
    message = update.effective_message
    if message is not None and message.text and _admit(front, update):
        await _accept(front, update, "command", message.text)


async def channel_command(front: Front, update: Update, _: Context) -> None:
    """/reminders and /timezone: answered in the lane by the channel (reminders.py)."""
    message = update.effective_message
    if message is not None and message.text and _admit(front, update):
        name, _space, args = message.text.partition(" ")
        kind = name.lstrip("/").split("@", 1)[0].lower()
        await _accept(front, update, kind, args.strip())


async def tools(front: Front, update: Update, context: Context) -> None:
    """Admins only: each tool server's state and its tools (set up by the service)."""
    user = update.effective_user
    if not _admit(front, update) or user is None:
        return
    if not front.access.is_admin(user.id):
        _notice(front, update, texts.ADMINS_ONLY)
        return
    report = context.bot_data.get("tools_report")
    _notice(front, update, report() if callable(report) else texts.NO_TOOL_SERVERS)


async def text(front: Front, update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    bot = context.bot
    said = addressed_text(message, bot.username, bot.id, front.group_mode)
    if said is None or not _admit(front, update):
        return  # a group message not meant for the bot: no reply, no model call
    if not said:  # only the @mention
        _notice(front, update, texts.HELP)
    elif is_blank(said):  # nothing visible: never stored, never sent to the model
        logger.info("conversation %s: empty message answered", conversation_id(message))
        _notice(front, update, texts.EMPTY_MESSAGE)
    else:
        await _accept(front, update, "text", with_reply_context(message, said))


async def recording(front: Front, update: Update, context: Context) -> None:
    """Voice notes, audio files, round videos: stored as pending (the file id) now,
    transcribed in the lane."""
    message = update.effective_message
    if message is None or _silent(front, message, context) or not _admit(front, update):
        return
    if not front.voice_enabled:
        _notice(front, update, texts.TEXT_ONLY)
        return
    kind = "voice" if message.voice else "audio" if message.audio else "video_note"
    media = message.voice or message.audio or message.video_note
    assert media is not None
    seconds = None if media.duration is None else int(as_seconds(media.duration))
    mime = getattr(media, "mime_type", None)
    extra = media_extra(kind, media.file_id, seconds, media.file_size, mime)
    caption = "" if is_blank(message.caption) else message.caption or ""
    await _accept(front, update, "voice", caption, extra)


async def document(front: Front, update: Update, context: Context) -> None:
    """A file: stored as pending (its file id, name, type, size) now, read in the lane."""
    message, bot = update.effective_message, context.bot
    if message is None or message.document is None:
        return
    said = addressed_text(message, bot.username, bot.id, front.group_mode)  # as for a photo
    if said is not None and _admit(front, update):
        caption = said or message.caption or ""
        caption = "" if is_blank(caption) else with_reply_context(message, caption)
        await _accept(front, update, "document", caption, document_extra(message.document))


async def other(front: Front, update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or _silent(front, message, context):
        return
    if _admit(front, update):
        _notice(front, update, texts.UNSUPPORTED)


async def edited(update: Update, _: Context) -> None:
    message = update.effective_message
    chat = message.chat_id if message else None
    logger.info("chat %s: edited message ignored (update %s)", chat, update.update_id)


async def error(update: object, context: Context) -> None:
    where = "?"
    if isinstance(update, Update) and update.effective_message is not None:
        where = conversation_id(update.effective_message)
    logger.error("conversation %s: error while handling an update", where, exc_info=context.error)


# -- helpers -----------------------------------------------------------------------------


def _help(front: Front) -> str:
    documents = texts.DOCUMENTS_HELP if front.documents_enabled else ""
    return texts.HELP + documents + (texts.REMINDERS_HELP if front.reminders is not None else "")


def _admit(front: Front, update: Update) -> bool:
    """True for allowed users; others get one short refusal and cost nothing."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or user.is_bot:
        return False
    if message.chat.type != "private" and front.group_mode == "off":
        return False
    if front.access.is_allowed(user.id):
        return True
    conversation = conversation_id(message)
    metrics.record_refusal()
    logger.info("refused user %s in conversation %s", user.id, conversation)
    if front.refusals.should_tell(user.id):
        refusal = texts.refused(user.id)
        front.intake.notify(conversation, message.chat_id, thread_id(message), refusal)
    return False


async def _redeem(front: Front, update: Update, code: str) -> None:
    """Spend the invitation; welcome the new user and tell the admin who invited them."""
    user = update.effective_user
    assert user is not None
    who = texts.who(user.full_name, user.username)
    try:
        invitation = await front.access.redeem(code, user.id, who)
    except UserInputError as exc:  # unknown, spent or expired
        _notice(front, update, str(exc))
        return
    except ConversationError:
        logger.exception("user %s: invitation not redeemed: the store failed", user.id)
        _notice(front, update, texts.STORE_DOWN)
        return
    _notice(front, update, texts.WELCOME)
    if invitation.by is not None:  # the admin's private chat: chat id = user id
        admin = invitation.by
        front.intake.notify(str(admin), admin, None, texts.joined(user.id, who))


def _notice(front: Front, update: Update, reply: str) -> None:
    message = update.effective_message
    if message is not None:
        front.intake.notify(conversation_id(message), message.chat_id, thread_id(message), reply)


def _silent(front: Front, message: Message, context: Context) -> bool:
    """Non-text group messages get an answer only where text would."""
    if message.chat.type == "private":
        return False
    mode = front.group_mode
    return mode == "off" or (mode == "mention" and not replies_to_bot(message, context.bot.id))


async def _accept(
    front: Front, update: Update, kind: str, body: str, extra: dict[str, object] | None = None
) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    item = InboxItem(
        update_id=update.update_id,
        kind=kind,
        text=body,
        user_id=user.id,
        chat_id=message.chat_id,
        thread_id=thread_id(message),
        message_id=message.message_id,
        extra={"chat_type": message.chat.type, **(extra or {})},
    )
    await front.intake.accept(conversation_id(message), item)
