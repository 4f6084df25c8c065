"""Sending to Telegram: replies split by Telegram's measure, and the typing indicator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Bot, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut
from telegramify_markdown import split_entities

from src.errors import ChannelError

logger = logging.getLogger(__name__)

MAX_MESSAGE_UTF16 = 4096
_SEND_ATTEMPTS = 3


def split_message(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Parts of at most `limit` UTF-16 code units, cut at line breaks where possible."""
    return [part for part, _ in split_entities(text, [], limit)]


class Delivery:
    def __init__(self, bot: Bot, typing_interval_s: float = 4.0) -> None:
        self.bot = bot
        self.typing_interval_s = typing_interval_s

    async def send_text(
        self,
        chat_id: int,
        text: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:
        """Send `text` as one or more messages; returns how many were sent.

        Raises ChannelError when Telegram refuses for good (the user blocked the bot, ...).
        """
        parts = split_message(text) or ["…"]
        for index, part in enumerate(parts):
            reply = None
            if index == 0 and reply_to is not None:
                reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            await self._send(chat_id, part, thread_id, reply)
        return len(parts)

    async def _send(
        self, chat_id: int, text: str, thread_id: int | None, reply: ReplyParameters | None
    ) -> None:
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            try:
                await self.bot.send_message(
                    chat_id, text, message_thread_id=thread_id, reply_parameters=reply
                )
                return
            except TimedOut as exc:
                # The request may have reached Telegram: sending again could duplicate it.
                raise ChannelError(f"sendMessage timed out for chat {chat_id}") from exc
            except (BadRequest, Forbidden) as exc:
                raise ChannelError(f"Telegram refused sendMessage: {exc.message}") from exc
            except NetworkError as exc:
                if attempt == _SEND_ATTEMPTS:
                    raise ChannelError(f"cannot reach Telegram: {exc.message}") from exc
                await asyncio.sleep(0.5 * 2**attempt)

    @contextlib.asynccontextmanager
    async def typing(self, chat_id: int, thread_id: int | None = None) -> AsyncIterator[None]:
        """Show "typing…" until the block ends (Telegram clears it after about 5 s)."""
        task = asyncio.create_task(self._keep_typing(chat_id, thread_id))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_typing(self, chat_id: int, thread_id: int | None) -> None:
        while True:
            try:
                await self.bot.send_chat_action(
                    chat_id, ChatAction.TYPING, message_thread_id=thread_id
                )
            except TelegramError as exc:
                logger.debug("chat %s: typing indicator failed: %s", chat_id, exc)
            await asyncio.sleep(self.typing_interval_s)
