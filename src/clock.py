"""The clock: monotonic time, wall time, sleeping and timers behind one small interface.

Code that waits or measures takes a `Clock` (default `SYSTEM_CLOCK`), so a test can hand it
the test clock (tests/clock.py), which advances when slept on: the test then controls time
and asserts what happened, instead of waiting for real seconds and measuring them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol


class Timer(Protocol):
    def cancel(self) -> None:
        """The callback will not run (if it has not run yet)."""


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""

    def time(self) -> float:
        """Wall-clock time, seconds since the epoch (for timestamps)."""

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass on this clock."""

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Run `callback` in the event loop once `seconds` have passed (a timer costs no task,
        unlike a sleeping coroutine)."""


class SystemClock:
    """The real clock: `time.monotonic`, `time.time`, `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(seconds, callback)


SYSTEM_CLOCK: Clock = SystemClock()


async def wait_for_event(clock: Clock, seconds: float | None, *events: asyncio.Event) -> bool:
    """Wait until one of `events` is set or `seconds` have passed on `clock` (None: no time
    limit), whichever comes first. True if an event is set: a stop or wake-up event cuts the
    wait short at once."""
    if any(event.is_set() for event in events):
        return True
    if seconds is not None and seconds <= 0:
        return False
    tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
    if seconds is not None:
        tasks.append(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return any(event.is_set() for event in events)
