"""ChatLanes' ordering, concurrency and shutdown (the inbox's contract is in
tests/store/test_records_contract.py, on every backend)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from src.channels.lanes import ChatLanes

# A bound on waiting for something that must happen, so a bug fails instead of hanging.
DEADLINE_S = 5.0


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.001)


# -- ChatLanes ----------------------------------------------------------------------------


async def test_items_of_one_key_run_in_order_one_at_a_time() -> None:
    seen: list[int] = []
    running: dict[str, int] = {}
    overlap: list[int] = []

    async def handle(key: str, value: int) -> None:
        running[key] = running.get(key, 0) + 1
        if running[key] > 1:
            overlap.append(value)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(value)
        running[key] -= 1

    lanes: ChatLanes[int] = ChatLanes(handle, max_concurrent=10)
    for value in range(20):
        lanes.submit("c", value)
    assert lanes.busy == 1
    await until(lambda: lanes.busy == 0)
    assert seen == list(range(20))
    assert overlap == []
    assert lanes.queued("c") == 0

    lanes.submit("c", 20)  # the lane starts again after it went idle
    await until(lambda: lanes.busy == 0)
    assert seen[-1] == 20


async def test_different_keys_run_at_the_same_time() -> None:
    inside: set[str] = set()
    both_inside = asyncio.Event()
    met: list[str] = []

    async def handle(key: str, _: None) -> None:
        inside.add(key)
        if inside >= {"a", "b"}:
            both_inside.set()
        async with asyncio.timeout(DEADLINE_S):  # one at a time would wait here forever
            await both_inside.wait()
        met.append(key)

    lanes: ChatLanes[None] = ChatLanes(handle, max_concurrent=2)
    lanes.submit("a", None)
    lanes.submit("b", None)
    await until(lambda: lanes.busy == 0)
    assert sorted(met) == ["a", "b"]


async def test_max_concurrent_bounds_the_lanes_running_at_once() -> None:
    gate = asyncio.Event()
    running = 0
    most = 0
    finished: list[str] = []

    async def handle(key: str, _: None) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        running -= 1
        finished.append(key)

    lanes: ChatLanes[None] = ChatLanes(handle, max_concurrent=3)
    keys = [f"k{i}" for i in range(10)]
    for key in keys:
        lanes.submit(key, None)
    await until(lambda: running == 3)
    for _ in range(20):
        await asyncio.sleep(0)
    assert running == 3
    assert lanes.busy == 10  # the others wait for a slot, with their work kept

    gate.set()
    await until(lambda: lanes.busy == 0)
    assert most == 3
    assert sorted(finished) == sorted(keys)


async def test_a_failing_item_is_logged_and_the_lane_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    async def handle(key: str, value: int) -> None:
        if value == 1:
            raise RuntimeError("boom")
        seen.append(value)

    lanes: ChatLanes[int] = ChatLanes(handle, max_concurrent=1)
    with caplog.at_level(logging.ERROR, logger="src.channels.lanes"):
        for value in range(4):
            lanes.submit("chat-1", value)
        await until(lambda: lanes.busy == 0)
    assert seen == [0, 2, 3]
    (record,) = caplog.records
    assert "chat-1" in record.getMessage()
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])


async def test_close_drops_queued_items_waits_for_running_ones_and_cancels_the_rest() -> None:
    release_a = asyncio.Event()
    started: list[str] = []
    finished: list[str] = []
    cancelled: list[str] = []

    async def handle(key: str, value: str) -> None:
        started.append(value)
        try:
            if key == "a":
                await release_a.wait()
            else:
                await asyncio.Event().wait()  # never finishes by itself
        except asyncio.CancelledError:
            cancelled.append(value)
            raise
        finished.append(value)

    lanes: ChatLanes[str] = ChatLanes(handle, max_concurrent=10)
    for value in ("a0", "a1", "a2"):
        lanes.submit("a", value)
    lanes.submit("b", "b0")
    lanes.submit("b", "b1")
    await until(lambda: len(started) == 2)

    closing = asyncio.create_task(lanes.close(grace_s=0.25))
    await until(lambda: lanes.queued("a") == 1 and lanes.queued("b") == 1)
    with pytest.raises(RuntimeError):
        lanes.submit("a", "late")
    release_a.set()  # a0 finishes within the grace; b0 does not

    assert await closing == 1
    assert sorted(started) == ["a0", "b0"]
    assert finished == ["a0"]
    assert cancelled == ["b0"]
    assert lanes.busy == 0


async def test_close_with_nothing_running() -> None:
    async def handle(key: str, value: int) -> None:
        return None

    lanes: ChatLanes[int] = ChatLanes(handle, max_concurrent=1)
    assert await lanes.close(grace_s=0.1) == 0
