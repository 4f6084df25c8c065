"""The test clock: a `src.clock.Clock` whose time moves only when the test says so.

- Auto mode (the default): `sleep(s)` moves the clock forward by `s` at once and returns after
  one turn of the event loop, so code that backs off for minutes runs in no time, and
  `sleeps` records every wait it asked for (what the test asserts).
- Manual mode (`TestClock(auto=False)`): a sleeper waits until `advance()` moves the clock to
  its deadline; `sleepers` says how many are waiting, so a test can set a stop event while
  something is mid-wait and see that the wait ended without time passing.
- `call_later` timers run when the clock reaches them (by `advance()`, or an auto-mode sleep).
- `VirtualTimeLoop(clock)`: an event loop whose own time is the clock, for code that waits on
  the loop's timers (python-telegram-bot's rate limiter, aiolimiter underneath).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import selectors
from collections.abc import Callable, Mapping
from typing import Any


class _Timer:
    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback: Callable[[], object] | None = callback

    def cancel(self) -> None:
        self.callback = None


class TestClock:
    __test__ = False  # not a pytest test class

    def __init__(self, *, auto: bool = True, start: float = 1000.0, wall: float = 1.7e9) -> None:
        self.auto = auto
        self._now = start
        self._wall_offset = wall - start
        self.sleeps: list[float] = []  # every wait asked for, in order
        # Sleeps (manual mode) and timers, by deadline then order of arrival.
        self._due: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._slept = asyncio.Event()  # set whenever a sleep or a timer starts waiting

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.auto:
            self._now += max(seconds, 0.0)
            self._run_due()
            await asyncio.sleep(0)
            return
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self._at(self._now + seconds, wake)
        self._slept.set()
        try:
            await future
        finally:
            timer.cancel()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> _Timer:
        """A timer on this clock: it runs when `advance()` (or, in auto mode, a sleep)
        reaches its deadline; one already due runs in the next turn of the event loop."""
        if seconds <= 0:
            timer = _Timer(callback)
            asyncio.get_running_loop().call_soon(self._fire, timer)
            return timer
        timer = self._at(self._now + seconds, callback)
        self._slept.set()  # a waiting timer counts as a sleeper (`until_sleeping`)
        return timer

    @property
    def sleepers(self) -> int:
        """How many sleeps and timers are waiting for the clock to reach their deadline."""
        return sum(1 for _, _, timer in self._due if timer.callback is not None)

    async def until_sleeping(self, count: int = 1) -> None:
        """Let the event loop run until `count` sleeps are waiting on this clock."""
        async with asyncio.timeout(10):  # only a guard against a hang
            while self.sleepers < count:
                self._slept.clear()
                await self._slept.wait()

    async def advance(self, seconds: float) -> None:
        """Move the clock forward; the sleeps and timers now due run, earliest first."""
        self._now += seconds
        self._run_due()
        for _ in range(3):  # let the woken code run up to its next await
            await asyncio.sleep(0)

    def _at(self, deadline: float, callback: Callable[[], object]) -> _Timer:
        timer = _Timer(callback)
        heapq.heappush(self._due, (deadline, next(self._order), timer))
        return timer

    def _run_due(self) -> None:
        while self._due and self._due[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._due)
            self._fire(timer)

    @staticmethod
    def _fire(timer: _Timer) -> None:
        callback, timer.callback = timer.callback, None
        if callback is not None:
            callback()


class _JumpingSelector(selectors.BaseSelector):
    """The default selector, except that a wait for `timeout` seconds moves the clock forward
    by that much and only polls: the loop believes it waited, and no real time passes."""

    def __init__(self, clock: TestClock) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # nothing is scheduled: only I/O could wake the loop
            return self._inner.select(None)
        if timeout > 0:  # at least one step: a wait too short to change the float still ends
            self._clock._now = math.nextafter(self._clock._now + timeout, math.inf)
        return self._inner.select(0)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is a TestClock that jumps to the next timer whenever the
    loop would wait: code that schedules on the loop's clock (aiolimiter, call_later,
    asyncio.sleep) runs its waits in no time, at exact virtual times. Only for code that does
    no network I/O (a real socket's answer takes real time, which this loop would skip)."""

    def __init__(self, clock: TestClock) -> None:
        super().__init__(_JumpingSelector(clock))
        self.clock = clock

    def time(self) -> float:
        return self.clock.monotonic()
