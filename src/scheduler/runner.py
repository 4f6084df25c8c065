"""The scheduler's loop: sleep until the earliest entry is due (woken early when one is
added), claim what is due, hand each to the channel's `deliver`, complete it.

Idle costs nothing: no model call, and no store read until the next due time (or a new
entry). With a store several processes share, the sleep is capped (`max_sleep_s`), since
another process's new entry cannot wake this one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from src.clock import SYSTEM_CLOCK, Clock, wait_for_event
from src.errors import ConversationError
from src.scheduler.entries import LEASE_S, Entries, Entry, UserZones

logger = logging.getLogger(__name__)

SENT, BLOCKED, NOT_ALLOWED = "sent", "blocked", "not_allowed"
# What the channel did with an entry: SENT (or run), BLOCKED (the chat blocked the bot),
# NOT_ALLOWED (its user is no longer on the allowlist). An exception: try again later.
Deliver = Callable[[Entry, bool], Awaitable[str]]

LATE_AFTER_S = 60.0  # an entry run later than this after its time is marked late
BATCH = 200
STORE_RETRY_S = 30.0


class Scheduler:
    def __init__(
        self,
        entries: Entries,
        zones: UserZones,
        clock: Clock = SYSTEM_CLOCK,
        max_sleep_s: float | None = None,
        reclaim_at_start: bool = True,
        concurrency: int = 100,
    ) -> None:
        self.entries = entries
        self.zones = zones
        self.clock = clock
        self.max_sleep_s = max_sleep_s
        # False with replicas: a claim at start-up may be another live replica's; it is
        # taken when its lease runs out instead.
        self.reclaim_at_start = reclaim_at_start
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)

    def wake(self) -> None:
        """An entry was added or cancelled: look at the due times again."""
        self._wake.set()

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Until `stop`: the first pass also takes entries a previous run claimed and did not
        finish (it died between the claim and the completion), unless `reclaim_at_start`
        is off."""
        reclaim = self.reclaim_at_start
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_due(deliver, reclaim)
                reclaim = False
                next_at = await self.entries.next_due()
            except ConversationError as exc:
                logger.error("scheduler: the store failed (%s); retrying in %.0f s", exc, 30)
                next_at = self.clock.time() + STORE_RETRY_S
            wait = None if next_at is None else max(0.0, next_at - self.clock.time())
            if self.max_sleep_s is not None:
                wait = self.max_sleep_s if wait is None else min(wait, self.max_sleep_s)
            await wait_for_event(self.clock, wait, self._wake, stop)

    async def run_due(self, deliver: Deliver, reclaim: bool = False) -> int:
        """Deliver every entry due now (each claimed first). Returns how many were run."""
        ran = 0
        while True:
            now = self.clock.time()
            horizon = now + LEASE_S if reclaim else now
            batch = await self.entries.due(horizon, BATCH)
            ready = [
                entry
                for entry in batch
                if entry.due_at is not None
                and (entry.due_at <= now or (reclaim and entry.claimed_at is not None))
            ]
            results = await asyncio.gather(
                *(self._run_one(entry, now, reclaim, deliver) for entry in ready)
            )
            ran += sum(results)
            if len(batch) < BATCH or not any(results):
                return ran

    async def _run_one(self, entry: Entry, now: float, reclaim: bool, deliver: Deliver) -> bool:
        async with self._slots:
            claimed = await self.entries.claim(entry, now, reclaim)
            if claimed is None:
                return False
            was_due = entry.claimed_at if entry.claimed_at is not None else entry.due_at
            late = entry.claimed_at is not None or now - (was_due or now) > LATE_AFTER_S
            try:
                outcome = await deliver(claimed, late)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "scheduler: entry %s of conversation %s not delivered; it is tried again "
                    "in %.0f s",
                    entry.id,
                    entry.conversation_id,
                    LEASE_S,
                )
                return True
            if outcome == BLOCKED:
                await self._disable_chat(claimed)
            elif outcome == NOT_ALLOWED:
                logger.info(
                    "scheduler: user %s is no longer allowed; entry %s removed",
                    entry.user_id,
                    entry.id,
                )
                await self.entries.cancel(entry.id, None)
            else:
                await self.entries.complete(claimed, self.clock.time())
            self.wake()  # a repeat's next slot may come before the others
            return True

    async def _disable_chat(self, entry: Entry) -> None:
        """The bot was blocked in that chat: none of its entries can be delivered."""
        for other in await self.entries.of_user(entry.user_id):
            if other.conversation_id == entry.conversation_id:
                await self.entries.disable(other, "blocked")
        logger.warning(
            "scheduler: conversation %s blocked the bot; its entries are disabled",
            entry.conversation_id,
        )
