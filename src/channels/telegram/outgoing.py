"""Files back to the user on Telegram: a turn's outbox, sent after its text answer.

Each turn gets an Outbox with Telegram's limits for bots (src/tools/outbox.py decides what
fits): a picture up to 10 MB goes as a photo, anything else up to 50 MB as a document. A
photo Telegram will not take (its dimensions, say) is sent again as a document. A file that
cannot be sent is named to the user; the log has the details.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from src.channels.telegram.replies import say
from src.channels.telegram.sender import SEND_RETRY, Sender, Target
from src.tools.outbox import Delivery, Outbox

logger = logging.getLogger(__name__)

PHOTO_LIMIT = 10 * 1024 * 1024  # sendPhoto
DOCUMENT_LIMIT = 50 * 1024 * 1024  # sendDocument, for bots


def telegram_outbox() -> Outbox:
    return Outbox(max_photo_bytes=PHOTO_LIMIT, max_document_bytes=DOCUMENT_LIMIT)


class FileSender:
    def __init__(self, bot: Bot, sender: Sender) -> None:
        self.bot = bot
        self.sender = sender

    async def deliver(self, conversation_id: str, target: Target, outbox: Outbox) -> None:
        """Send the outbox's files, then say which could not be sent."""
        for delivery in outbox.deliveries:
            if not await self._send(conversation_id, target, delivery):
                name = delivery.file.name
                await say(self.sender, conversation_id, target, f"I couldn't send you {name}.")
        for notice in outbox.refused:
            await say(self.sender, conversation_id, target, notice)

    async def _send(self, conversation_id: str, target: Target, delivery: Delivery) -> bool:
        file, clock = delivery.file, self.sender.clock
        try:
            if delivery.as_photo:
                try:
                    await SEND_RETRY.call(lambda: self._photo(target, delivery), clock=clock)
                    return True
                except BadRequest as exc:  # e.g. dimensions Telegram does not take
                    logger.info("chat %s: photo refused (%s); as a document", target.chat_id, exc)
            await SEND_RETRY.call(lambda: self._document(target, delivery), clock=clock)
            return True
        except Forbidden as exc:
            logger.warning("conversation %s: file not sent: %s", conversation_id, exc)
            return True  # the bot may not write there: nothing else will arrive either
        except TelegramError as exc:
            logger.error(
                "conversation %s: file %s (%d bytes) not sent: %s",
                conversation_id,
                file.name,
                len(file.data),
                exc,
            )
            return False

    async def _photo(self, target: Target, delivery: Delivery) -> None:
        await self.bot.send_photo(
            target.chat_id,
            photo=delivery.file.data,
            filename=delivery.file.name,
            message_thread_id=target.thread_id,
        )

    async def _document(self, target: Target, delivery: Delivery) -> None:
        await self.bot.send_document(
            target.chat_id,
            document=delivery.file.data,
            filename=delivery.file.name,
            message_thread_id=target.thread_id,
        )
