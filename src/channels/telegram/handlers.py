"""Thin python-telegram-bot handlers: each turns an Update into an inbox item or a notice.

The handlers are plain functions of (`Front`, update, context); `register` wires them all,
in one place, with what they need bound in. They never call the model or the store
themselves: `Front.intake` stores and queues, `Front.access` says who may talk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from src.channels.telegram import texts
from src.channels.telegram.approvals import PREFIX as APPROVAL
from src.channels.telegram.buttons import approval_button, reminder_button
from src.channels.telegram.front import Context, Front, accept, admit, notice, silent
from src.channels.telegram.groups import addressed_text, with_reply_context
from src.channels.telegram.ids import conversation_id
from src.channels.telegram.media import document, photo, recording
from src.channels.telegram.reminders import CANCEL
from src.conversation.visible import is_blank
from src.errors import ConversationError, UserInputError

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
    images = filters.PHOTO | filters.Document.IMAGE
    application.add_handler(MessageHandler(new & images, bound(photo)))
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
    elif admit(front, update):
        notice(front, update, "Hi! " + _help(front))


async def help_command(front: Front, update: Update, _: Context) -> None:
    if admit(front, update):
        notice(front, update, _help(front))


async def unknown_command(front: Front, update: Update, _: Context) -> None:
    if admit(front, update):
        notice(front, update, texts.UNKNOWN_COMMAND)


async def reset(front: Front, update: Update, _: Context) -> None:
    if admit(front, update):
        await accept(front, update, "reset", "")


async def coordinator_command(front: Front, update: Update, _: Context) -> None:
    message = update.effective_message
    if message is not None and message.text and admit(front, update):
        await accept(front, update, "command", message.text)


async def channel_command(front: Front, update: Update, _: Context) -> None:
    """/reminders and /timezone: answered in the lane by the channel (reminders.py)."""
    message = update.effective_message
    if message is not None and message.text and admit(front, update):
        name, _space, args = message.text.partition(" ")
        kind = name.lstrip("/").split("@", 1)[0].lower()
        await accept(front, update, kind, args.strip())


async def tools(front: Front, update: Update, context: Context) -> None:
    """Admins only: each tool server's state and its tools (set up by the service)."""
    user = update.effective_user
    if not admit(front, update) or user is None:
        return
    if not front.access.is_admin(user.id):
        notice(front, update, texts.ADMINS_ONLY)
        return
    report = context.bot_data.get("tools_report")
    notice(front, update, report() if callable(report) else texts.NO_TOOL_SERVERS)


async def text(front: Front, update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    bot = context.bot
    said = addressed_text(message, bot.username, bot.id, front.group_mode)
    if said is None or not admit(front, update):
        return  # a group message not meant for the bot: no reply, no model call
    if not said:  # only the @mention
        notice(front, update, texts.HELP)
    elif is_blank(said):  # nothing visible: never stored, never sent to the model
        logger.info("conversation %s: empty message answered", conversation_id(message))
        notice(front, update, texts.EMPTY_MESSAGE)
    else:
        await accept(front, update, "text", with_reply_context(message, said))


async def other(front: Front, update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or silent(front, message, context):
        return
    if admit(front, update):
        notice(front, update, texts.UNSUPPORTED)


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
    photos = texts.PHOTOS_HELP if front.vision_enabled else ""
    documents = texts.DOCUMENTS_HELP if front.documents_enabled else ""
    reminders = texts.REMINDERS_HELP if front.reminders is not None else ""
    return texts.HELP + photos + documents + reminders


async def _redeem(front: Front, update: Update, code: str) -> None:
    """Spend the invitation; welcome the new user and tell the admin who invited them."""
    user = update.effective_user
    assert user is not None
    who = texts.who(user.full_name, user.username)
    try:
        invitation = await front.access.redeem(code, user.id, who)
    except UserInputError as exc:  # unknown, spent or expired
        notice(front, update, str(exc))
        return
    except ConversationError:
        logger.exception("user %s: invitation not redeemed: the store failed", user.id)
        notice(front, update, texts.STORE_DOWN)
        return
    notice(front, update, texts.WELCOME)
    if invitation.by is not None:  # the admin's private chat: chat id = user id
        admin = invitation.by
        front.intake.notify(str(admin), admin, None, texts.joined(user.id, who))
