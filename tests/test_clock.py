"""The clock (src/clock.py) and the test clock (tests/clock.py) that tests drive time with."""

from __future__ import annotations

import asyncio
import time

from src.clock import SYSTEM_CLOCK, wait_for_event
from tests.clock import TestClock


async def test_the_system_clock_reads_the_real_clocks() -> None:
    # It reads time.monotonic and time.time themselves (read between two readings of each).
    before, wall_before = time.monotonic(), time.time()
    await SYSTEM_CLOCK.sleep(0)
    read, wall = SYSTEM_CLOCK.monotonic(), SYSTEM_CLOCK.time()
    assert before <= read <= time.monotonic()
    assert wall_before <= wall <= time.time()


async def test_an_auto_clock_moves_forward_by_each_sleep() -> None:
    clock = TestClock(start=10.0, wall=100.0)
    await clock.sleep(5)
    await clock.sleep(0.5)
    assert (clock.monotonic(), clock.time()) == (15.5, 105.5)
    assert clock.sleeps == [5, 0.5]


async def test_a_manual_clock_wakes_sleepers_when_their_deadline_is_reached() -> None:
    clock = TestClock(auto=False)
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(nap("long", 10)), asyncio.create_task(nap("short", 2))]
    await clock.until_sleeping(2)
    await clock.advance(2)
    assert woke == ["short"]
    await clock.advance(7.9)
    assert woke == ["short"]
    await clock.advance(0.1)
    assert woke == ["short", "long"]
    await asyncio.gather(*tasks)


async def test_wait_for_event_ends_when_an_event_is_set_without_time_passing() -> None:
    clock = TestClock(auto=False)
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_for_event(clock, 3600, asyncio.Event(), event))
    await clock.until_sleeping(1)
    event.set()
    assert await waiting is True
    assert clock.monotonic() == 1000.0


async def test_wait_for_event_times_out_on_the_clock() -> None:
    clock = TestClock()
    assert await wait_for_event(clock, 30, asyncio.Event()) is False
    assert clock.sleeps == [30]
    set_already = asyncio.Event()
    set_already.set()
    assert await wait_for_event(clock, 30, set_already) is True
    assert clock.sleeps == [30]  # no wait at all


async def test_timers_run_when_the_clock_reaches_them_unless_cancelled() -> None:
    clock = TestClock(auto=False)
    ran: list[str] = []
    clock.call_later(1, lambda: ran.append("one"))
    cancelled = clock.call_later(1, lambda: ran.append("cancelled"))
    clock.call_later(0, lambda: ran.append("now"))
    clock.call_later(2, lambda: ran.append("two"))
    cancelled.cancel()
    await asyncio.sleep(0)
    assert ran == ["now"]
    await clock.advance(1)
    assert ran == ["now", "one"]
    await clock.advance(1)
    assert ran == ["now", "one", "two"]
    assert clock.sleepers == 0


async def test_the_system_clock_timer_runs_on_the_event_loop() -> None:
    ran = asyncio.Event()
    SYSTEM_CLOCK.call_later(0, ran.set)
    await asyncio.wait_for(ran.wait(), 5)  # only a hang guard


async def test_wait_for_event_without_a_time_limit_takes_no_timer() -> None:
    clock = TestClock()
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_for_event(clock, None, event))
    await asyncio.sleep(0.01)
    assert not waiting.done() and clock.sleeps == [] and clock.sleepers == 0
    event.set()
    assert await waiting is True
