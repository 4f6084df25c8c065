"""The ConversationStore contract, run against every backend (records and the inbox:
test_records_contract.py).

Tests here use only the `ConversationStore` interface. To run them against another backend,
add its name to the `backend` fixture's params and a branch that builds it (every call of
`open_store` must return a new client of the *same* storage, as a second process would).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.store.conversations import ConversationStore
from src.store.file.conversations import FileStore
from tests.peers.dynamodb import shared_endpoint, use_endpoint

# Longer than the coarsest file-system timestamp tick, so "updated later" is visible.
_CLOCK_TICK_S = 0.025


@dataclass
class Backend:
    name: str
    open_store: Callable[[], Awaitable[ConversationStore]]
    lone_surrogates: bool  # can the backend store text that is not valid UTF-8?


@pytest.fixture(params=["file", "moto", "dynalite"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    opened: list[ConversationStore] = []

    if request.param == "file":
        directory = tmp_path / "store"

        async def open_store() -> ConversationStore:
            store = FileStore(directory, fsync=True)
            await store.open()
            opened.append(store)
            return store

        yield Backend("file", open_store, lone_surrogates=True)
    elif request.param in ("moto", "dynalite"):
        # A server per session (a child process on a free port), a fresh table per test.
        from src.store.dynamodb.conversations import DynamoDBStore

        use_endpoint(monkeypatch, shared_endpoint(request.param))
        config = DynamoDBStoreConfig(table=f"contract-{uuid.uuid4().hex[:12]}", create_table=True)

        async def open_dynamodb() -> ConversationStore:
            store = DynamoDBStore(config)
            opened.append(store)
            await store.open()
            return store

        # Text that is not valid UTF-8 is stored JSON-escaped, so it round-trips here too.
        yield Backend(request.param, open_dynamodb, lone_surrogates=True)
    else:  # pragma: no cover - a param without a branch
        raise AssertionError(f"no backend {request.param!r}")
    for store in opened:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> ConversationStore:
    return await backend.open_store()


def bulk(store: ConversationStore) -> Any:
    """The backend's bulk import (`save_conversation`), which is not part of the interface."""
    return store


def text_message(text: str, role: Any = "user") -> Message:
    return Message(role=role, content=text)


def numbered(count: int, prefix: str = "m", start: int = 0) -> list[Message]:
    return [text_message(f"{prefix}{i}") for i in range(start, start + count)]


def contents(messages: list[Message]) -> list[str | None]:
    return [m.content for m in messages]


CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
    {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_current_time", "arguments": "{}"},
    },
]


def every_shape(lone_surrogates: bool) -> list[Message]:
    shapes = [
        Message(role="system", content="You are terse."),
        Message(
            role="user",
            content="hi",
            name="alice",
            metadata={
                "update_id": 7,
                "user_id": 42,
                "source": "telegram",
                "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
            },
        ),
        Message(role="assistant", content=None, tool_calls=CALLS, metadata={"agent": "a"}),
        Message(role="tool", content='{"temp": 21}', tool_call_id="call_1", name="get_weather"),
        Message(role="tool", content="", tool_call_id="call_2"),
        Message(role="assistant", content="Paris: 21 °C ☀️", tool_calls=None),
        Message(
            role="user",
            content=(
                "emoji 😀👍🏽👨‍👩‍👧 rtl שלום مرحبا cjk 漢字 combining e\u0301 zwj \u200d "
                'nul \x00 sep\u2028\u2029 tab\t newline\n cr\r quote" backslash\\ bom \ufeff'
            ),
        ),
        Message(role="user", content=""),
        Message(role="user", content='looks like json {"role":"user"}\n{"broken'),
        Message(role="assistant", content="the end", created_at=1.5),
    ]
    if lone_surrogates:
        shapes.append(Message(role="user", content="lone \ud800 high and \udfff low"))
    return shapes


async def tick() -> None:
    await asyncio.sleep(_CLOCK_TICK_S)


# -- messages ---------------------------------------------------------------------------


async def test_ping(store: ConversationStore) -> None:
    await store.ping()


async def test_unknown_conversation_is_empty(store: ConversationStore) -> None:
    assert await store.load_recent("nobody", None) == []
    assert await store.load_recent("nobody", 10) == []
    assert await store.list_conversations() == []
    await store.delete_conversation("nobody")  # no error


async def test_every_message_shape_round_trips(store: ConversationStore, backend: Backend) -> None:
    shapes = every_shape(backend.lone_surrogates)
    await store.append_messages("appended", shapes)
    assert await store.load_recent("appended", None) == shapes
    assert await store.load_recent("appended", len(shapes)) == shapes

    await bulk(store).save_conversation("saved", shapes)
    assert await store.load_recent("saved", None) == shapes

    for index, message in enumerate(shapes):  # one append each
        await store.append_messages("one-by-one", [message])
        assert await store.load_recent("one-by-one", 1) == [message], index
    assert await store.load_recent("one-by-one", None) == shapes


async def test_a_one_megabyte_message_round_trips(store: ConversationStore) -> None:
    big = Message(role="tool", content="x" * 1_000_000 + "😀 end", tool_call_id="call_big")
    before, after = text_message("before"), text_message("after", role="assistant")
    await store.append_messages("c", [before, big, after])
    assert await store.load_recent("c", None) == [before, big, after]
    assert await store.load_recent("c", 1) == [after]
    assert await store.load_recent("c", 2) == [big, after]
    assert await store.load_recent("c", 3) == [before, big, after]


async def test_appends_keep_their_order(store: ConversationStore) -> None:
    expected: list[Message] = []
    for batch in (numbered(1, start=0), numbered(3, start=1), [], numbered(2, start=4)):
        await store.append_messages("c", batch)
        expected += batch
    assert contents(await store.load_recent("c", None)) == [f"m{i}" for i in range(6)]
    assert await store.load_recent("c", None) == expected


async def test_conversations_are_separate(store: ConversationStore) -> None:
    await store.append_messages("a", numbered(2, "a"))
    await store.append_messages("b", numbered(3, "b"))
    assert contents(await store.load_recent("a", None)) == ["a0", "a1"]
    assert contents(await store.load_recent("b", None)) == ["b0", "b1", "b2"]


@pytest.mark.parametrize("limit", [1, 3, 9, 10, 11, 1000])
async def test_load_recent_returns_the_tail_in_order(store: ConversationStore, limit: int) -> None:
    history = numbered(10)
    await store.append_messages("c", history)
    assert await store.load_recent("c", limit) == history[-limit:]


async def test_load_recent_of_nothing(store: ConversationStore) -> None:
    await store.append_messages("c", numbered(3))
    assert await store.load_recent("c", 0) == []


async def test_load_recent_across_block_boundaries(store: ConversationStore) -> None:
    """Long messages of uneven sizes, so line ends fall everywhere around 64 KiB blocks."""
    rnd = random.Random(64)
    sizes = [rnd.randint(1, 20_000) for _ in range(40)] + [65_535, 65_536, 65_537, 140_000]
    rnd.shuffle(sizes)
    history = [
        Message(role="user" if i % 2 else "assistant", content=f"{i}:" + "é" * size)
        for i, size in enumerate(sizes)
    ]
    for start in range(0, len(history), 7):
        await store.append_messages("c", history[start : start + 7])
    for limit in range(1, len(history) + 2):
        assert await store.load_recent("c", limit) == history[-limit:], limit


async def test_save_conversation_replaces(store: ConversationStore) -> None:
    await store.append_messages("c", numbered(5, "old"))
    replacement = numbered(2, "new")
    await bulk(store).save_conversation("c", replacement)
    assert await store.load_recent("c", None) == replacement
    assert await store.load_recent("c", 10) == replacement
    await store.append_messages("c", [text_message("new2")])
    assert contents(await store.load_recent("c", None)) == ["new0", "new1", "new2"]
    await bulk(store).save_conversation("c", [])
    assert await store.load_recent("c", None) == []


async def test_delete_forgets_the_history(store: ConversationStore) -> None:
    for cid in ("gone", "kept"):
        await store.append_messages(cid, numbered(3, cid))

    await store.delete_conversation("gone")

    assert await store.load_recent("gone", None) == []
    assert await store.load_recent("gone", 5) == []
    assert [i.conversation_id for i in await store.list_conversations()] == ["kept"]
    assert contents(await store.load_recent("kept", None)) == ["kept0", "kept1", "kept2"]

    await store.append_messages("gone", [text_message("again")])  # a fresh start
    assert contents(await store.load_recent("gone", None)) == ["again"]


async def test_list_conversations_newest_first(store: ConversationStore) -> None:
    ids = [f"c{i}" for i in range(5)]
    for cid in ids:
        await store.append_messages(cid, [text_message(cid)])
        await tick()

    listed = await store.list_conversations()
    assert [i.conversation_id for i in listed] == ids[::-1]
    times = [i.updated_at for i in listed]
    assert times == sorted(times, reverse=True)

    page = await store.list_conversations(limit=2)
    assert [i.conversation_id for i in page] == ["c4", "c3"]
    page = await store.list_conversations(limit=2, offset=2)
    assert [i.conversation_id for i in page] == ["c2", "c1"]
    page = await store.list_conversations(limit=2, offset=4)
    assert [i.conversation_id for i in page] == ["c0"]
    assert await store.list_conversations(limit=2, offset=5) == []

    await store.append_messages("c1", [text_message("later")])
    listed = await store.list_conversations(limit=2)
    assert [i.conversation_id for i in listed] == ["c1", "c4"]


# -- concurrency and size -----------------------------------------------------------------


async def test_concurrent_appends_keep_submission_order(store: ConversationStore) -> None:
    await asyncio.gather(*(store.append_messages("c", [text_message(f"m{i}")]) for i in range(200)))
    assert contents(await store.load_recent("c", None)) == [f"m{i}" for i in range(200)]


async def test_concurrent_batches_stay_whole(store: ConversationStore) -> None:
    batches = [numbered(3, f"b{i}-") for i in range(50)]
    await asyncio.gather(*(store.append_messages("c", batch) for batch in batches))
    assert await store.load_recent("c", None) == [m for batch in batches for m in batch]


async def test_two_clients_appending_at_once_lose_nothing(
    store: ConversationStore, backend: Backend
) -> None:
    other = await backend.open_store()
    jobs = []
    for i in range(100):
        jobs.append(store.append_messages("c", [text_message(f"a{i}")]))
        jobs.append(other.append_messages("c", [text_message(f"b{i}")]))
    await asyncio.gather(*jobs)

    for reader in (store, other, await backend.open_store()):
        got = contents(await reader.load_recent("c", None))
        assert sorted(got, key=str) == sorted(
            [f"a{i}" for i in range(100)] + [f"b{i}" for i in range(100)]
        )
        assert [c for c in got if c and c[0] == "a"] == [f"a{i}" for i in range(100)]
        assert [c for c in got if c and c[0] == "b"] == [f"b{i}" for i in range(100)]


async def test_ten_thousand_messages(store: ConversationStore) -> None:
    total, batch = 10_000, 500
    for start in range(0, total, batch):
        await store.append_messages("long", numbered(batch, start=start))
    loaded = await store.load_recent("long", None)
    assert len(loaded) == total
    assert contents(loaded) == [f"m{i}" for i in range(total)]
    assert contents(await store.load_recent("long", 50)) == [f"m{i}" for i in range(9950, total)]
