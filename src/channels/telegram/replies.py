"""Where a reply goes (`target_for`) and how the bot's own plain-text notices are sent."""

from __future__ import annotations

import logging

from src.channels.telegram.formatting import plain_parts
from src.channels.telegram.sender import Sender, Target
from src.errors import ChannelError
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)


def target_for(item: InboxItem) -> Target:
    """The chat (and topic) of an inbox item; in groups the reply quotes the message."""
    assert item.chat_id is not None
    private = item.extra.get("chat_type", "private") == "private"
    return Target(
        chat_id=item.chat_id,
        thread_id=item.thread_id,
        reply_to=None if private else item.message_id,
        private=private,
    )


async def say(sender: Sender, conversation_id: str, target: Target, text: str) -> None:
    """A plain-text notice from the bot itself (help, refusals, command answers)."""
    try:
        for index, part in enumerate(plain_parts(text)):
            await sender.send(target, part, first=index == 0)
    except ChannelError as exc:
        logger.error("conversation %s: reply not delivered: %s", conversation_id, exc)
