"""One way to retry with backoff: tenacity, set up the way this project retries.

A `Retry` names what is worth another try (`on`), how long to wait between tries (`Backoff`:
first wait, doubling, capped; optionally with full jitter), how many tries at most, and a
wait a failure may ask for itself (`hint`: Telegram's retry_after, which does not advance the
backoff). `Retry.call` runs one coroutine function under it with an injectable clock
(src/clock.py), so tests drive the waits instead of sitting through them, and with an optional
stop event: a wait in progress ends the moment it is set, and no further attempt is made (the
call returns None). A cancellation of the caller is never retried.

tenacity (pinned in requirements.txt) does the looping: it is the well-kept library for this,
its async retrying takes the sleep function as a parameter (which is how the clock and the
stop event get in), and its strategies compose. Callers see only this module.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_never

from src.clock import SYSTEM_CLOCK, Clock, wait_for_event

T = TypeVar("T")

# Called before each wait: (the failure, the number of attempts so far, the wait in seconds).
OnRetry = Callable[[BaseException, int, float], Awaitable[None] | None]


@dataclass(frozen=True)
class Backoff:
    """Waits of `first_s`, doubling after each failure, never more than `max_s`. With
    `jitter`, each wait is drawn uniformly between 0 and that bound (full jitter), so writers
    that collided do not collide again in step."""

    first_s: float
    max_s: float
    jitter: bool = False

    def bound(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1 for the first)."""
        exponent = min(max(failures - 1, 0), 64)  # 2**64 s is past any cap
        return min(self.first_s * 2.0**exponent, self.max_s)

    def delay(self, failures: int) -> float:
        bound = self.bound(failures)
        return random.uniform(0.0, bound) if self.jitter else bound


def failure_of(
    *kinds: type[BaseException], unless: tuple[type[BaseException], ...] = ()
) -> Callable[[BaseException], bool]:
    """A predicate for `Retry.on`: the error is one of `kinds` and none of `unless`."""

    def matches(error: BaseException) -> bool:
        return isinstance(error, kinds) and not isinstance(error, unless)

    return matches


@dataclass(frozen=True)
class Retry:
    """What to retry and how; `call` runs a coroutine function under it."""

    on: Callable[[BaseException], bool]  # worth another try (anything else is raised at once)
    backoff: Backoff
    attempts: int | None = None  # at most this many tries; None: until it works or stops
    hint: Callable[[BaseException], float | None] | None = None  # a wait the failure asks for

    @overload
    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        clock: Clock = ...,
        stop: None = None,
        wake: asyncio.Event | None = None,
        on_retry: OnRetry | None = None,
    ) -> T: ...

    @overload
    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        clock: Clock = ...,
        stop: asyncio.Event,
        wake: asyncio.Event | None = None,
        on_retry: OnRetry | None = None,
    ) -> T | None: ...

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        clock: Clock = SYSTEM_CLOCK,
        stop: asyncio.Event | None = None,
        wake: asyncio.Event | None = None,
        on_retry: OnRetry | None = None,
    ) -> T | None:
        """`await fn()` until it returns, a failure is not worth another try (raised), or the
        attempts are used up (the last failure is raised). None once `stop` is set: a wait
        ends at once, and no attempt starts after it. `wake` set ends a wait early too, and
        the next attempt starts at once (the caller clears it). `on_retry` runs before each
        wait (not once stopped)."""
        events = [event for event in (stop, wake) if event is not None]
        stopped = object()

        async def attempt() -> Any:
            if stop is not None and stop.is_set():
                return stopped
            return await fn()

        async def sleep(seconds: float) -> None:
            if events:
                await wait_for_event(clock, seconds, *events)
            else:
                await clock.sleep(seconds)

        async def before_sleep(state: RetryCallState) -> None:
            if on_retry is None or (stop is not None and stop.is_set()):
                return
            error = state.outcome.exception() if state.outcome is not None else None
            if error is None:
                return
            outcome = on_retry(error, state.attempt_number, state.upcoming_sleep)
            if inspect.isawaitable(outcome):
                await outcome

        backed_off = (
            0  # failures that waited the backoff (a wait a failure asked for does not count)
        )

        def wait(state: RetryCallState) -> float:
            nonlocal backed_off
            error = state.outcome.exception() if state.outcome is not None else None
            if error is not None and self.hint is not None:
                asked = self.hint(error)
                if asked is not None:
                    return max(0.0, asked)
            backed_off += 1
            return self.backoff.delay(backed_off)

        retrying = AsyncRetrying(
            sleep=sleep,
            stop=stop_never if self.attempts is None else stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception(self._worth_retrying),
            before_sleep=before_sleep,
            reraise=True,
        )
        result: Any = await retrying(attempt)
        return None if result is stopped else result

    def _worth_retrying(self, error: BaseException) -> bool:
        if isinstance(error, KeyboardInterrupt | SystemExit):
            return False
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            return False  # our caller is being cancelled (timeout, shutdown): never retried
        return self.on(error)
