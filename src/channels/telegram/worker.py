"""The lane worker: what happens to each item of a conversation's lane, in order.

A notice is sent; /reset forgets the history; a coordinator command is answered; text,
voice notes, photos (an album as one item, albums.py) and documents are turns (turns.py),
paced by the user's messages-per-minute limit first. The inbox forgets an item once it has
been handled.
"""

from __future__ import annotations

import asyncio
import logging

from src.agents.coordinator import Coordinator
from src.channels.telegram import texts
from src.channels.telegram.albums import PARTS_KEY
from src.channels.telegram.intake import Checkpoint, LaneItem, Notice, Scheduled
from src.channels.telegram.reminders import Reminders
from src.channels.telegram.replies import say, target_for
from src.channels.telegram.sender import Sender, Target
from src.channels.telegram.turns import TurnRunner
from src.errors import ConversationError, UserInputError
from src.ops import metrics
from src.store.inbox import Inbox, InboxItem

logger = logging.getLogger(__name__)


class LaneWorker:
    def __init__(
        self,
        coordinator: Coordinator,
        inbox: Inbox,
        sender: Sender,
        turns: TurnRunner,
        reminders: Reminders | None = None,
    ) -> None:
        self.coordinator = coordinator
        self.inbox = inbox
        self.sender = sender
        self.turns = turns
        self.reminders = reminders

    async def __call__(self, conversation_id: str, item: LaneItem) -> None:
        if isinstance(item, Checkpoint):
            if not item.reached.done():
                item.reached.set_result(None)
            return
        if isinstance(item, Notice):
            target = Target(item.chat_id, item.thread_id)
            await say(self.sender, conversation_id, target, item.text)
            return
        if isinstance(item, Scheduled):
            await self._scheduled(conversation_id, item)
            return
        if item.kind in ("reminders", "timezone") and self.reminders is not None:
            if item.kind == "reminders":
                await self.reminders.listing(conversation_id, item)
            else:
                await say(
                    self.sender,
                    conversation_id,
                    target_for(item),
                    await self.reminders.timezone(item),
                )
        elif item.kind == "reset":
            text = await self._reset(conversation_id, item)
            await say(self.sender, conversation_id, target_for(item), text)
        elif item.kind == "command":
            text = await self._command(conversation_id, item)
            await say(self.sender, conversation_id, target_for(item), text)
        elif await self._paced(conversation_id, item):
            await self.turns.run(conversation_id, item, from_voice=item.kind == "voice")
        parts = item.extra.get(PARTS_KEY, [])  # an album's other parts, answered with it
        await self.inbox.done(conversation_id, item.update_id, *parts)

    async def _scheduled(self, conversation_id: str, item: Scheduled) -> None:
        """A due entry's turn in the lane; the scheduler awaits what became of it."""
        assert self.reminders is not None
        try:
            outcome = await self.reminders.deliver(conversation_id, item)
        except asyncio.CancelledError:
            item.done.cancel()
            raise
        except Exception as exc:
            if not item.done.done():
                item.done.set_exception(exc)
            return
        if not item.done.done():
            item.done.set_result(outcome)

    async def _paced(self, conversation_id: str, item: InboxItem) -> bool:
        """Hold a turn while its user is over `limits.messages_per_minute` (one notice per
        burst). False: the message is not answered (`over_rate: drop`; the user was told)."""
        rate = self.coordinator.rate
        if not rate.enabled or item.user_id is None or self.coordinator.limits.exempt(item.user_id):
            return True
        admission = await rate.take(item.user_id)
        if admission.notify:
            metrics.record_limit_refusal("messages_per_minute")
            notice = (
                texts.slowed(rate.capacity)
                if not admission.dropped
                else texts.dropped(rate.capacity)
            )
            await say(self.sender, conversation_id, target_for(item), notice)
        if admission.dropped:
            logger.info(
                "conversation %s: update %s over the rate limit, not answered",
                conversation_id,
                item.update_id,
            )
            return False
        if admission.wait_s:
            await rate.clock.sleep(admission.wait_s)
        return True

    async def _command(self, conversation_id: str, item: InboxItem) -> str:
        try:
            return await self.coordinator.handle_command(conversation_id, item.text, item.user_id)
        except UserInputError as exc:
            return str(exc)
        except ConversationError:
            logger.exception("conversation %s: command failed", conversation_id)
            return texts.STORE_DOWN
        except Exception:
            logger.exception("conversation %s: command failed", conversation_id)
            return texts.FAILED

    async def _reset(self, conversation_id: str, item: InboxItem) -> str:
        try:
            await self.coordinator.reset(conversation_id)  # the inbox keeps its own record
        except ConversationError:
            logger.exception("conversation %s: reset failed", conversation_id)
            return texts.STORE_DOWN
        logger.info("conversation %s: reset by the user", conversation_id)
        return texts.RESET_DONE
