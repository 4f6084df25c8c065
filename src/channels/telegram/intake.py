"""Durable intake: an accepted message is stored in the inbox before its lane gets it.

The handlers hand every message here. `accept` stores it (retrying while the store is
down, so the update is not confirmed to Telegram before it is safe) and queues it in its
conversation's lane; `notify` queues a `Notice`, a reply that needs no model and no
durability (help text, refusals), in the same lane so it keeps its place in the order.

A shared queue (SQS, src/channels/telegram/consumer.py) runs the handlers of one update
inside `settled`, which returns only when every lane item they queued has been handled: then
the queue's message may be deleted. With `resume_owed`, an update delivered again while the
inbox still owes it (a replica died mid-turn) is queued again instead of being ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
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


@dataclass(frozen=True)
class Checkpoint:
    """Resolved when its lane reaches it: everything queued before it there is handled."""

    reached: asyncio.Future[None]


LaneItem = InboxItem | Notice | Scheduled | Checkpoint

# The conversations the handlers running inside `Intake.settled` queued work for.
_touched: ContextVar[set[str] | None] = ContextVar("intake_touched", default=None)


# The store is retried until it takes the update: Telegram is not told it arrived until then.
STORE_RETRY = Retry(on=failure_of(ConversationError), backoff=Backoff(0.5, 15.0))


class Intake:
    def __init__(
        self,
        inbox: Inbox,
        lanes: ChatLanes[LaneItem],
        clock: Clock = SYSTEM_CLOCK,
        albums: Albums | None = None,
        resume_owed: bool = False,
        group_albums: bool = True,
    ) -> None:
        self.inbox = inbox
        self.lanes = lanes
        self.clock = clock
        # An album's parts wait here (in memory; stored in the inbox) to go on as one item.
        self.albums = albums or Albums(lanes.submit, clock)
        self.resume_owed = resume_owed
        self.group_albums = group_albums

    def notify(self, conversation_id: str, chat_id: int, thread: int | None, text: str) -> None:
        self.albums.flush(conversation_id)  # an album that came before goes first
        self._submit(conversation_id, Notice(chat_id, thread, text))

    async def settled(self, handle: Callable[[], Awaitable[None]]) -> None:
        """Run `handle` (the handlers of one update), then wait until every lane item it
        queued is handled. Cancelled (shutdown): the items may not be done."""
        touched: set[str] = set()
        token = _touched.set(touched)
        try:
            await handle()
        finally:
            _touched.reset(token)
        loop = asyncio.get_running_loop()
        marks = []
        for conversation_id in touched:
            mark = Checkpoint(loop.create_future())
            self.lanes.submit(conversation_id, mark)
            marks.append(mark.reached)
        await asyncio.gather(*marks)

    def _submit(self, conversation_id: str, item: LaneItem) -> None:
        _touch(conversation_id)
        self.lanes.submit(conversation_id, item)

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

        _touch(conversation_id)  # the message waits even for an item already in its lane
        accepted = await STORE_RETRY.call(
            lambda: self.inbox.accept(conversation_id, item), clock=self.clock, on_retry=note
        )
        if accepted:
            if item.kind == "photo" and item.extra.get(GROUP_KEY) and self.group_albums:
                self.albums.add(conversation_id, item)
            else:
                self.albums.flush(conversation_id)
                self._submit(conversation_id, item)
        elif (
            self.resume_owed
            and not self.lanes.holds(conversation_id, item)
            and await self.inbox.owed(conversation_id, item.update_id)
        ):
            logger.info(
                "conversation %s: update %s delivered again while still owed; resuming it",
                conversation_id,
                item.update_id,
            )
            self._submit(conversation_id, item)

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


def _touch(conversation_id: str) -> None:
    touched = _touched.get()
    if touched is not None:
        touched.add(conversation_id)
