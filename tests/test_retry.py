"""The one retry mechanism (src/retry.py): what is retried, the waits, hints, limits, stops."""

from __future__ import annotations

import asyncio

import pytest

from src.retry import Backoff, Retry, failure_of
from tests.clock import TestClock


class Flaky:
    """Fails with the given errors in turn, then returns "done"; counts its calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 30.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(10_000) == 30  # no overflow after a long outage


def test_jittered_backoff_stays_within_the_bound() -> None:
    backoff = Backoff(0.02, 1.0, jitter=True)
    for failures in range(1, 12):
        assert all(0 <= backoff.delay(failures) <= backoff.bound(failures) for _ in range(50))


async def test_failures_worth_another_try_are_retried_with_backoff() -> None:
    clock = TestClock()
    flaky = Flaky(ConnectionError(), ConnectionError(), ConnectionError())
    policy = Retry(on=failure_of(ConnectionError), backoff=Backoff(1, 3))
    assert await policy.call(flaky, clock=clock) == "done"
    assert flaky.calls == 4
    assert clock.sleeps == [1, 2, 3]


async def test_other_failures_are_raised_at_once() -> None:
    clock = TestClock()
    flaky = Flaky(ConnectionResetError(), KeyError("no"))
    policy = Retry(on=failure_of(OSError, unless=(ConnectionRefusedError,)), backoff=Backoff(1, 1))
    with pytest.raises(KeyError):
        await policy.call(flaky, clock=clock)
    assert flaky.calls == 2
    refused = Flaky(ConnectionRefusedError())
    with pytest.raises(ConnectionRefusedError):
        await policy.call(refused, clock=clock)
    assert refused.calls == 1


async def test_after_the_last_attempt_the_last_failure_is_raised() -> None:
    clock = TestClock()
    flaky = Flaky(*(TimeoutError(str(n)) for n in range(5)))
    policy = Retry(on=failure_of(TimeoutError), backoff=Backoff(0.5, 10), attempts=3)
    with pytest.raises(TimeoutError, match=r"^2$"):
        await policy.call(flaky, clock=clock)
    assert flaky.calls == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_a_wait_the_failure_asks_for_is_honoured() -> None:
    class Busy(Exception):
        def __init__(self, wait: float | None) -> None:
            self.wait = wait

    clock = TestClock()
    flaky = Flaky(Busy(7), Busy(None), Busy(42), Busy(None))
    policy = Retry(
        on=failure_of(Busy),
        backoff=Backoff(1, 60),
        hint=lambda e: e.wait if isinstance(e, Busy) else None,
    )
    assert await policy.call(flaky, clock=clock) == "done"
    # The hint wins; without one, the backoff, which the hinted waits do not advance.
    assert clock.sleeps == [7, 1, 42, 2]


async def test_on_retry_hears_each_failure_and_the_wait_before_it() -> None:
    heard: list[tuple[str, int, float]] = []

    async def note(error: BaseException, attempts: int, wait: float) -> None:
        heard.append((str(error), attempts, wait))

    flaky = Flaky(OSError("a"), OSError("b"))
    policy = Retry(on=failure_of(OSError), backoff=Backoff(2, 60))
    await policy.call(flaky, clock=TestClock(), on_retry=note)
    assert heard == [("a", 1, 2), ("b", 2, 4)]


async def test_a_stop_event_ends_the_wait_and_no_attempt_follows() -> None:
    clock = TestClock(auto=False)
    stop = asyncio.Event()
    flaky = Flaky(*(OSError() for _ in range(10)))
    policy = Retry(on=failure_of(OSError), backoff=Backoff(3600, 3600))
    call = asyncio.create_task(policy.call(flaky, clock=clock, stop=stop))
    await clock.until_sleeping(1)
    stop.set()
    assert await asyncio.wait_for(call, 5) is None  # 5 s: only a guard against a hang
    assert flaky.calls == 1
    assert clock.monotonic() == 1000.0  # no time had to pass


async def test_nothing_is_attempted_once_stopped() -> None:
    stop = asyncio.Event()
    stop.set()
    flaky = Flaky()
    assert await Retry(on=failure_of(OSError), backoff=Backoff(1, 1)).call(flaky, stop=stop) is None
    assert flaky.calls == 0


async def test_cancelling_the_caller_is_never_retried() -> None:
    clock = TestClock(auto=False)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    policy = Retry(on=lambda _: True, backoff=Backoff(1, 1))  # even "retry everything"
    call = asyncio.create_task(policy.call(hang, clock=clock))
    await started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert clock.sleeps == []


async def test_a_wake_event_ends_the_wait_and_the_next_attempt_starts() -> None:
    clock = TestClock(auto=False)
    wake = asyncio.Event()
    flaky = Flaky(OSError())
    policy = Retry(on=failure_of(OSError), backoff=Backoff(3600, 3600))
    call = asyncio.create_task(policy.call(flaky, clock=clock, wake=wake))
    await clock.until_sleeping(1)
    wake.set()
    assert await asyncio.wait_for(call, 5) == "done"
    assert flaky.calls == 2
    assert clock.monotonic() == 1000.0
