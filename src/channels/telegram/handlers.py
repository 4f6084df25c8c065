"""Thin python-telegram-bot handlers: turn an Update into inbox items or notices."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from src.channels.telegram import texts
from src.channels.telegram.groups import addressed_text, replies_to_bot, with_reply_context
from src.channels.telegram.ids import conversation_id, thread_id
from src.channels.telegram.sender import as_seconds
from src.channels.telegram.voice import media_extra
from src.store.inbox import InboxItem

if TYPE_CHECKING:
    from src.channels.telegram.channel import TelegramChannel

logger = logging.getLogger(__name__)

COMMANDS = {
    "start": "Start talking to the assistant",
    "help": "What I can do",
    "reset": "Forget this conversation",
}


def register(application: Application, channel: TelegramChannel) -> None:
    handlers = _Handlers(channel)
    new = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", handlers.start, filters=new))
    application.add_handler(CommandHandler("help", handlers.help, filters=new))
    application.add_handler(CommandHandler("reset", handlers.reset, filters=new))
    application.add_handler(CommandHandler("tools", handlers.tools, filters=new))
    for name in channel.coordinator.commands():  # channel-independent commands (/agent, ...)
        application.add_handler(CommandHandler(name, handlers.coordinator_command, filters=new))
    application.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, handlers.text))
    application.add_handler(MessageHandler(new & filters.COMMAND, handlers.unknown_command))
    recordings = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE
    application.add_handler(MessageHandler(new & recordings, handlers.recording))
    application.add_handler(MessageHandler(new, handlers.other))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.edited))
    application.add_error_handler(handlers.error)


class _Handlers:
    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel

    def _admit(self, update: Update) -> bool:
        """True for allowed users; others get one short refusal and cost nothing."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or user.is_bot:
            return False
        if message.chat.type != "private" and self.channel.group_mode == "off":
            return False
        if self.channel.is_allowed(user.id):
            return True
        self.channel.refuse(conversation_id(message), message.chat_id, thread_id(message), user.id)
        return False

    def _notice(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            self.channel.notify(conversation_id(message), message.chat_id, thread_id(message), text)

    async def start(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if self._admit(update):
            self._notice(update, texts.START)

    async def help(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if self._admit(update):
            self._notice(update, texts.HELP)

    async def unknown_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if self._admit(update):
            self._notice(update, texts.UNKNOWN_COMMAND)

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._silent(message, context):
            return
        if self._admit(update):
            self._notice(update, texts.UNSUPPORTED)

    async def recording(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Voice notes, audio files, round videos: stored as pending (the file id) now,
        transcribed in the lane."""
        message = update.effective_message
        if message is None or self._silent(message, context) or not self._admit(update):
            return
        if not self.channel.config.voice.enabled:
            self._notice(update, texts.TEXT_ONLY)
            return
        kind = "voice" if message.voice else "audio" if message.audio else "video_note"
        media = message.voice or message.audio or message.video_note
        assert media is not None
        seconds = None if media.duration is None else int(as_seconds(media.duration))
        mime = getattr(media, "mime_type", None)
        extra = media_extra(kind, media.file_id, seconds, media.file_size, mime)
        await self._accept(update, "voice", message.caption or "", extra)

    async def coordinator_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text and self._admit(update):
            await self._accept(update, "command", message.text)

    async def reset(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if self._admit(update):
            await self._accept(update, "reset", "")

    async def tools(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admins only: each tool server's state and its tools (set up by the service)."""
        user = update.effective_user
        if not self._admit(update) or user is None:
            return
        if user.id not in self.channel.config.telegram.admin_user_ids:
            self._notice(update, texts.ADMINS_ONLY)
            return
        report = context.bot_data.get("tools_report")
        self._notice(update, report() if callable(report) else texts.NO_TOOL_SERVERS)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        bot = context.bot
        text = addressed_text(message, bot.username, bot.id, self.channel.group_mode)
        if text is None or not self._admit(update):
            return  # a group message not meant for the bot: no reply, no model call
        if not text:
            self._notice(update, texts.HELP)
            return
        await self._accept(update, "text", with_reply_context(message, text))

    def _silent(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Non-text group messages get an answer only where text would."""
        if message.chat.type == "private":
            return False
        mode = self.channel.group_mode
        return mode == "off" or (mode == "mention" and not replies_to_bot(message, context.bot.id))

    async def edited(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = message.chat_id if message else None
        logger.info("chat %s: edited message ignored (update %s)", chat, update.update_id)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = "?"
        if isinstance(update, Update) and update.effective_message is not None:
            where = conversation_id(update.effective_message)
        logger.error(
            "conversation %s: error while handling an update", where, exc_info=context.error
        )

    async def _accept(
        self, update: Update, kind: str, text: str, extra: dict[str, object] | None = None
    ) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        item = InboxItem(
            update_id=update.update_id,
            kind=kind,
            text=text,
            user_id=user.id,
            chat_id=message.chat_id,
            thread_id=thread_id(message),
            message_id=message.message_id,
            extra={"chat_type": message.chat.type, **(extra or {})},
        )
        await self.channel.accept(conversation_id(message), item)
