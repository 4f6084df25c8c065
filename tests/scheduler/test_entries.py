"""Scheduled entries on every backend (file, moto, dynalite): create, list, cancel, the claim
before delivery and the completion after it, and the scheduler's loop on the test clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from src.errors import ToolArgumentError
from src.scheduler.entries import LEASE_S, Entries, Entry, UserZones
from src.scheduler.runner import BLOCKED, NOT_ALLOWED, SENT, Scheduler
from src.store import Storage
from tests.clock import TestClock
from tests.peers.serve import wait_until
from tests.store.test_records_contract import Backend, backend, storage  # noqa: F401

T0 = 1_800_000_000.0


def entry(due: float | None, user: int = 7, cron: str | None = None, chat: str = "7") -> Entry:
    return Entry(
        id="", user_id=user, conversation_id=chat, text="call mum", zone="UTC",
        due_at=due, created_at=T0, cron=cron,
    )  # fmt: skip


async def test_create_list_and_cancel_only_ones_own(storage: Storage) -> None:  # noqa: F811
    entries = Entries(storage.records, max_per_user=2)
    first = await entries.create(entry(T0 + 60))
    assert len(first.id) == 8 and first.version == 1
    await entries.create(entry(T0 + 120))
    with pytest.raises(ToolArgumentError, match="2 scheduled entries"):
        await entries.create(entry(T0 + 180))
    await entries.create(entry(T0 + 60, user=8))  # another user's count is their own
    assert {e.due_at for e in await entries.of_user(7)} == {T0 + 60, T0 + 120}
    assert await entries.cancel(first.id, user_id=8) is None  # not theirs
    assert (await entries.cancel(first.id, user_id=7)) is not None
    assert await entries.get(first.id) is None
    assert await entries.get("../../etc") is None  # a hostile id reads nothing


async def test_claim_takes_a_due_entry_once_and_moves_it_a_lease_ahead(storage: Storage) -> None:  # noqa: F811
    entries = Entries(storage.records)
    stored = await entries.create(entry(T0))
    assert await entries.claim(stored, T0 - 1, reclaim=False) is None  # not due yet
    claimed = await entries.claim(stored, T0 + 5, reclaim=False)
    assert claimed is not None and claimed.claimed_at == T0 + 5
    assert claimed.due_at == T0 + 5 + LEASE_S
    assert await entries.claim(stored, T0 + 6, reclaim=False) is None  # taken already
    again = await entries.claim(claimed, T0 + 7, reclaim=True)  # a restart takes it back
    assert again is not None and again.claimed_at == T0 + 7
    assert await entries.due(T0 + 100, 10) == []  # leased: out of the due window


async def test_complete_deletes_a_one_off_and_moves_a_repeat_past_now(storage: Storage) -> None:  # noqa: F811
    entries = Entries(storage.records)
    once = await entries.claim(await entries.create(entry(T0)), T0, False)
    assert once is not None and await entries.complete(once, T0 + 1) is None
    assert await entries.get(once.id) is None
    hourly = await entries.create(entry(T0, cron="0 * * * *"))
    claimed = await entries.claim(hourly, T0 + 5 * 3600, False)  # five hours late
    assert claimed is not None
    following = await entries.complete(claimed, T0 + 5 * 3600)
    assert following is not None and following.claimed_at is None
    assert T0 + 5 * 3600 < (following.due_at or 0) <= T0 + 6 * 3600  # no burst of missed ones


async def test_time_zones_are_per_user(storage: Storage) -> None:  # noqa: F811
    zones = UserZones(storage.records, "UTC")
    assert await zones.get(7) == "UTC"
    await zones.set(7, "Europe/Berlin")
    assert (await zones.get(7), await zones.get(8), await zones.get(None)) == (
        "Europe/Berlin", "UTC", "UTC",
    )  # fmt: skip
    with pytest.raises(ToolArgumentError):
        await zones.set(7, "Mars/Olympus")


class Channel:
    """What the channel's deliver does, recorded: the scheduler's side is under test."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, bool, float]] = []
        self.outcome = SENT
        self.clock: TestClock | None = None

    async def deliver(self, item: Entry, late: bool) -> str:
        assert self.clock is not None
        self.delivered.append((item.text, late, self.clock.time()))
        return self.outcome


async def start(
    opened: Storage, clock: TestClock, channel: Channel
) -> tuple[Scheduler, asyncio.Event, asyncio.Task[None]]:
    scheduler = Scheduler(Entries(opened.records), UserZones(opened.records, "UTC"), clock)
    channel.clock = clock
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(channel.deliver, stop))
    await asyncio.sleep(0.05)
    return scheduler, stop, task


async def test_the_loop_sleeps_until_due_and_delivers_once(storage: Storage) -> None:  # noqa: F811
    clock, channel = TestClock(auto=False, wall=T0), Channel()
    scheduler, stop, task = await start(storage, clock, channel)
    assert clock.sleepers == 0  # nothing scheduled: no timer, no polling
    await scheduler.entries.create(entry(clock.time() + 2))
    scheduler.wake()
    await clock.until_sleeping()
    await clock.advance(1.9)
    await asyncio.sleep(0.05)
    assert channel.delivered == []
    await clock.advance(0.1)
    await wait_until(lambda: len(channel.delivered) == 1)
    assert channel.delivered == [("call mum", False, T0 + 2)]
    await clock.advance(3600)
    await asyncio.sleep(0.1)
    assert len(channel.delivered) == 1  # once
    assert await scheduler.entries.of_user(7) == []
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_repeat_fires_at_each_slot(storage: Storage) -> None:  # noqa: F811
    clock, channel = TestClock(auto=False, wall=T0 - T0 % 3600), Channel()  # on the hour
    scheduler, stop, task = await start(storage, clock, channel)
    await scheduler.entries.create(entry(clock.time() + 60, cron="* * * * *"))
    scheduler.wake()
    for minute in range(1, 4):
        await clock.until_sleeping()
        await clock.advance(60)
        await wait_until(lambda n=minute: len(channel.delivered) == n)  # type: ignore[misc]
    assert [t - channel.delivered[0][2] for *_, t in channel.delivered] == [0, 60, 120]
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_entries_due_while_down_and_unfinished_claims_go_out_at_start_late(
    storage: Storage,  # noqa: F811
) -> None:
    entries = Entries(storage.records)
    await entries.create(entry(T0 - 3600, cron="*/5 * * * *"))  # due an hour ago, repeating
    cut_off = await entries.claim(await entries.create(entry(T0 - 10)), T0 - 5, False)
    assert cut_off is not None  # claimed by a run that died before sending
    clock, channel = TestClock(auto=False, wall=T0), Channel()
    _, stop, task = await start(storage, clock, channel)
    await wait_until(lambda: len(channel.delivered) == 2)
    assert sorted(late for _, late, _ in channel.delivered) == [True, True]
    await asyncio.sleep(0.1)
    assert len(channel.delivered) == 2  # one each: the missed repeats are not sent one by one
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("outcome", [BLOCKED, NOT_ALLOWED])
async def test_a_blocked_chat_disables_and_a_removed_user_loses_entries(
    storage: Storage,  # noqa: F811
    outcome: str,
) -> None:
    entries = Entries(storage.records)
    await entries.create(entry(T0 - 1))
    other_chat = await entries.create(entry(T0 + 3600, chat="-100"))
    same_chat = await entries.create(entry(T0 + 3600))
    clock, channel = TestClock(auto=False, wall=T0), Channel()
    channel.outcome = outcome
    _, stop, task = await start(storage, clock, channel)
    await wait_until(lambda: len(channel.delivered) == 1)
    await asyncio.sleep(0.1)
    left = {e.id: e for e in await entries.of_user(7)}
    if outcome == BLOCKED:
        assert left[same_chat.id].disabled == "blocked" and left[same_chat.id].due_at is None
        assert left[other_chat.id].disabled is None  # another chat is not blocked
    else:
        assert set(left) == {other_chat.id, same_chat.id}  # the delivered one is gone
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_failed_delivery_stays_claimed_and_is_tried_after_the_lease(
    storage: Storage,  # noqa: F811
) -> None:
    entries = Entries(storage.records)
    stored = await entries.create(entry(T0 - 1))
    clock, channel = TestClock(auto=False, wall=T0), Channel()
    failures = [RuntimeError("telegram down")]

    async def flaky(item: Entry, late: bool) -> str:
        if failures:
            raise failures.pop()
        return await channel.deliver(item, late)

    scheduler = Scheduler(entries, UserZones(storage.records, "UTC"), clock)
    channel.clock = clock
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(flaky, stop))
    await clock.until_sleeping()
    assert channel.delivered == []
    assert (await entries.get(stored.id)) is not None
    await clock.advance(LEASE_S)
    await wait_until(lambda: len(channel.delivered) == 1)
    stop.set()
    await asyncio.wait_for(task, 5)


def test_entries_round_trip_through_records() -> None:
    original = replace(entry(T0), id="abcd1234", task=True, meta={"chat_type": "group"})
    assert Entry.of(original.to_record()) == original
