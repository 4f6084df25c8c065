"""What the Telegram handlers share: `Front` (who may talk, where messages go, the settings
they read) and the steps every handler takes: admit the sender, queue a notice, accept an
item into the inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from telegram import Message, Update
from telegram.ext import ContextTypes

from src.access import Access
from src.channels.telegram import texts
from src.channels.telegram.access import RefusalThrottle
from src.channels.telegram.albums import OncePerAlbum
from src.channels.telegram.approvals import TelegramApprover
from src.channels.telegram.groups import replies_to_bot
from src.channels.telegram.ids import conversation_id, thread_id
from src.channels.telegram.intake import Intake
from src.channels.telegram.reminders import Reminders
from src.ops import metrics
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

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
    vision_enabled: bool = False  # vision.enabled: photos go to the model
    max_image_mb: float = 10.0  # vision.max_image_mb
    album_notices: OncePerAlbum = field(default_factory=OncePerAlbum)


def admit(front: Front, update: Update) -> bool:
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


def notice(front: Front, update: Update, reply: str) -> None:
    message = update.effective_message
    if message is not None:
        front.intake.notify(conversation_id(message), message.chat_id, thread_id(message), reply)


def silent(front: Front, message: Message, context: Context) -> bool:
    """Non-text group messages get an answer only where text would."""
    if message.chat.type == "private":
        return False
    mode = front.group_mode
    return mode == "off" or (mode == "mention" and not replies_to_bot(message, context.bot.id))


async def accept(
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
