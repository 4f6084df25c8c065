"""Durable intake: an accepted message is stored in the inbox before its lane gets it.

The handlers hand every message here. `accept` stores it (retrying while the store is
down, so the update is not confirmed to Telegram before it is safe) and queues it in its
conversation's lane; `notify` queues a `Notice`, a reply that needs no model and no
durability (help text, refusals), in the same lane so it keeps its place in the order.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from src.channels.lanes import ChatLanes
from src.channels.telegram.albums import GROUP_KEY, Albums, merge_albums
from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ConversationError
from src.retry import Backoff, Retry, failure_of
from src.scheduler.entries import Entry
from src.store.inbox import Inbox, InboxItem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A reply that needs no model and no durability (help text, refusals)."""

    chat_id: int
    thread_id: int | None
    text: str


@dataclass(frozen=True)
class Scheduled:
    """A scheduled entry due now (src/scheduler/): it waits its turn in the conversation's
    lane like a message, and `done` gets what became of it (src/scheduler/runner.py)."""

    entry: Entry
    late: bool
    done: asyncio.Future[str]


LaneItem = InboxItem | Notice | Scheduled


# The store is retried until it takes the update: Telegram is not told it arrived until then.
STORE_RETRY = Retry(on=failure_of(ConversationError), backoff=Backoff(0.5, 15.0))


class Intake:
    def __init__(
        self,
        inbox: Inbox,
        lanes: ChatLanes[LaneItem],
        clock: Clock = SYSTEM_CLOCK,
        albums: Albums | None = None,
    ) -> None:
        self.inbox = inbox
        self.lanes = lanes
        self.clock = clock
        # An album's parts wait here (in memory; stored in the inbox) to go on as one item.
        self.albums = albums or Albums(lanes.submit, clock)

    def notify(self, conversation_id: str, chat_id: int, thread: int | None, text: str) -> None:
        self.albums.flush(conversation_id)  # an album that came before goes first
        self.lanes.submit(conversation_id, Notice(chat_id, thread, text))

    async def accept(self, conversation_id: str, item: InboxItem) -> None:
        """Store the item (retrying while the store is down), then queue it in its lane."""

        def note(error: BaseException, _attempts: int, wait: float) -> None:
            logger.error(
                "conversation %s: cannot store update %s (%s); retrying in %.1f s",
                conversation_id,
                item.update_id,
                error,
                wait,
            )

        accepted = await STORE_RETRY.call(
            lambda: self.inbox.accept(conversation_id, item), clock=self.clock, on_retry=note
        )
        if not accepted:
            return
        if item.kind == "photo" and item.extra.get(GROUP_KEY):
            self.albums.add(conversation_id, item)
        else:
            self.albums.flush(conversation_id)
            self.lanes.submit(conversation_id, item)

    async def recover(self) -> int:
        """Queue every item a previous run accepted but did not answer. Returns how many."""
        count = 0
        for conversation_id, items in await self.inbox.pending():
            for item in merge_albums(items):
                self.lanes.submit(conversation_id, item)
                count += 1
        if count:
            logger.info("recovered %d unanswered message(s) from the last run", count)
        return count
