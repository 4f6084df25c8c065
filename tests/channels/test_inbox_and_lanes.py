"""The inbox on a real FileStore, and ChatLanes' ordering, concurrency and shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from src.channels.inbox import Inbox, InboxItem
from src.channels.lanes import ChatLanes
from src.conversation.message import Message
from src.store.file.conversations import FileStore

# A bound on waiting for something that must happen, so a bug fails instead of hanging.
DEADLINE_S = 5.0


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.001)


def item(update_id: int, text: str = "hi", kind: str = "text") -> InboxItem:
    return InboxItem(update_id=update_id, kind=kind, text=text, user_id=7, chat_id=7)


@pytest.fixture
def inbox(store: FileStore) -> Inbox:
    return Inbox(store)


# -- Inbox --------------------------------------------------------------------------------


async def test_accept_stores_the_item_and_marks_the_conversation(
    inbox: Inbox, store: FileStore
) -> None:
    full = InboxItem(
        update_id=10,
        kind="text",
        text="héllo 😀",
        user_id=1,
        chat_id=-100,
        thread_id=3,
        message_id=99,
        extra={"voice_file_id": "abc"},
    )
    assert await inbox.accept("c", full) is True
    assert await store.list_pending() == ["c"]
    meta = await store.load_metadata("c")
    assert meta["pending"] == [full.to_dict()]
    assert meta["last_update_id"] == 10
    assert await Inbox(FileStore(store.directory)).pending() == [("c", [full])]  # a restart


async def test_a_repeated_or_older_update_id_is_refused(inbox: Inbox, store: FileStore) -> None:
    assert await inbox.accept("c", item(5)) is True
    assert await inbox.accept("c", item(5, "again")) is False
    assert await inbox.accept("c", item(4)) is False
    assert await inbox.accept("c", item(6)) is True
    assert [i.update_id for _, items in await inbox.pending() for i in items] == [5, 6]

    await inbox.done("c", 5)
    await inbox.done("c", 6)
    assert await inbox.accept("c", item(6)) is False  # answered long ago: still refused
    assert await store.list_pending() == []  # and the mark set for it is taken back


async def test_the_duplicate_guard_is_per_conversation(inbox: Inbox) -> None:
    assert await inbox.accept("a", item(5)) is True
    assert await inbox.accept("b", item(5)) is True


async def test_done_unmarks_only_when_nothing_is_left(inbox: Inbox, store: FileStore) -> None:
    await inbox.accept("c", item(1))
    await inbox.accept("c", item(2))
    await inbox.done("c", 1)
    assert await store.list_pending() == ["c"]
    assert [i.update_id for _, items in await inbox.pending() for i in items] == [2]
    await inbox.done("c", 2)
    assert await store.list_pending() == []
    assert await inbox.pending() == []
    await inbox.done("c", 2)  # twice is harmless
    assert await store.list_pending() == []


async def test_pending_lists_items_in_update_id_order_across_conversations(
    inbox: Inbox,
) -> None:
    arrivals = [("b", 10), ("a", 11), ("zz", 12), ("b", 13), ("a", 14), ("0", 15)]
    for cid, update_id in arrivals:
        assert await inbox.accept(cid, item(update_id, f"{cid}{update_id}"))
    pending = await inbox.pending()
    assert [(cid, [i.update_id for i in items]) for cid, items in pending] == [
        ("b", [10, 13]),
        ("a", [11, 14]),
        ("zz", [12]),
        ("0", [15]),
    ]
    assert pending[0][1][0].text == "b10"


async def test_pending_drops_a_stale_mark(inbox: Inbox, store: FileStore) -> None:
    await store.set_pending("stale", True)  # a crash between marking and storing the item
    await inbox.accept("c", item(1))
    assert [cid for cid, _ in await inbox.pending()] == ["c"]
    assert await store.list_pending() == ["c"]


async def test_forget_history_keeps_later_items_and_the_guard(
    inbox: Inbox, store: FileStore
) -> None:
    await store.append_messages("c", [Message(role="user", content="old")])
    await store.save_metadata("c", {"agent": "assistant"})
    await inbox.accept("c", item(1, kind="reset"))
    await inbox.accept("c", item(2, "after the reset"))
    forgotten: list[str] = []

    async def forget() -> None:
        await store.delete_conversation("c")
        forgotten.append("c")

    await inbox.forget_history("c", 1, forget)

    assert forgotten == ["c"]
    assert await store.load_conversation("c") == []
    meta = await store.load_metadata("c")
    assert "agent" not in meta
    assert meta["last_update_id"] == 2
    assert [(cid, [i.text for i in items]) for cid, items in await inbox.pending()] == [
        ("c", ["after the reset"])
    ]
    assert await store.list_pending() == ["c"]
    assert await inbox.accept("c", item(1)) is False
    assert await inbox.accept("c", item(2)) is False

    await inbox.done("c", 2)
    await inbox.accept("c", item(3, kind="reset"))
    await inbox.forget_history("c", 3, forget)
    assert await store.list_pending() == []
    assert await inbox.accept("c", item(3)) is False


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
