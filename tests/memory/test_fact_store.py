"""Facts as records on every backend (file, moto, dynalite): one record per fact found by
the user index, the same fact twice is one, limits per fact and per user, forgetting, and
what a second replica sees (on the test clock)."""

from __future__ import annotations

import pytest

from src.config import MemoryConfig
from src.errors import FactRefusedError
from src.memory.facts import CONSOLE_OWNER, KIND, fact_id
from src.memory.store import FactStore
from src.store import Storage
from tests.clock import TestClock
from tests.store.test_records_contract import Backend

ADA, BOB = 4242, 5353


def facts_on(storage: Storage, clock: TestClock | None = None, **config: object) -> FactStore:
    return FactStore(storage.records, MemoryConfig.model_validate(config), clock or TestClock())


async def test_a_fact_is_one_record_in_the_users_index(backend: Backend) -> None:
    first = await backend.open_storage()
    clock = TestClock(wall=1_700_000_000)
    fact, new = await facts_on(first, clock).remember(ADA, "My name is Ada.\n", "4242")
    assert new and fact.text == "My name is Ada." and fact.id == fact_id("my name is ada")
    [record] = await first.records.find(KIND, user_id=ADA)
    assert record.key == f"{ADA}:{fact.id}" and record.user_id == ADA
    assert record.data == {
        "text": "My name is Ada.",
        "at": 1_700_000_000.0,
        "conversation": "4242",
        "source": "tool",
    }

    second = await backend.open_storage()  # a restart: a new client, nothing cached
    store = facts_on(second)
    await store.remember(ADA, "I live in Lyon", "-100777")
    facts = await store.user(ADA)
    assert [f.text for f in facts.newest()] == ["I live in Lyon", "My name is Ada."]
    assert len(await store.user(BOB)) == 0  # another user's memory is empty


async def test_the_same_fact_twice_is_one_fact_and_the_newest_again(backend: Backend) -> None:
    storage = await backend.open_storage()
    clock = TestClock(wall=1_700_000_000)
    store = facts_on(storage, clock)
    await store.remember(ADA, "I am vegetarian", "chat-1")
    await clock.advance(60)
    await store.remember(ADA, "I have two kids", "chat-1")
    await clock.advance(60)
    fact, new = await store.remember(ADA, "i am VEGETARIAN.", "chat-2")
    assert not new
    assert fact.text == "i am VEGETARIAN."  # the latest wording
    assert (fact.at, fact.conversation) == (1_700_000_000.0, "chat-1")  # first said there
    records = await storage.records.find(KIND, user_id=ADA)
    assert len(records) == 2
    assert [r.data["text"] for r in records] == ["i am VEGETARIAN.", "I have two kids"]


async def test_limits_per_fact_and_per_user(backend: Backend) -> None:
    storage = await backend.open_storage()
    store = facts_on(storage, max_facts_per_user=3, max_fact_chars=40)
    with pytest.raises(FactRefusedError, match="41 characters long; a fact may have at most 40"):
        await store.remember(ADA, "x" * 41)
    with pytest.raises(FactRefusedError, match="empty"):
        await store.remember(ADA, " \n\x00 ")
    for n in range(3):
        await store.remember(ADA, f"fact {n}")
    with pytest.raises(FactRefusedError, match=r"memory is full \(3 facts\)"):
        await store.remember(ADA, "one too many")
    _, new = await store.remember(ADA, "fact 1")  # a known fact is still fine
    assert not new
    await store.remember(BOB, "Bob's own fact")  # the limit is per user
    assert len(await storage.records.find(KIND, user_id=ADA)) == 3


async def test_forget_one_and_all(backend: Backend) -> None:
    storage = await backend.open_storage()
    store = facts_on(storage)
    kept, _ = await store.remember(CONSOLE_OWNER, "The console has a memory too")
    gone, _ = await store.remember(CONSOLE_OWNER, "Forget me")
    for n in range(20):
        await store.remember(ADA, f"Ada's fact number {n}")
    await store.forget(CONSOLE_OWNER, gone.id)
    await store.forget(CONSOLE_OWNER, gone.id)  # already gone: fine
    assert [f.id for f in (await store.user(CONSOLE_OWNER)).newest()] == [kept.id]
    assert [r.key for r in await storage.records.find(KIND, user_id=0)] == [f"0:{kept.id}"]

    assert await store.forget_all(ADA) == 20
    assert await storage.records.find(KIND, user_id=ADA) == []
    assert len(await store.user(ADA)) == 0
    assert len(await facts_on(await backend.open_storage()).user(CONSOLE_OWNER)) == 1


async def test_a_replica_sees_anothers_facts_after_refresh_s(backend: Backend) -> None:
    clock = TestClock()
    here = FactStore((await backend.open_storage()).records, MemoryConfig(), clock, refresh_s=60)
    there = FactStore((await backend.open_storage()).records, MemoryConfig(), clock, refresh_s=60)
    await here.remember(ADA, "Said on replica one")
    assert len(await there.user(ADA)) == 1  # first use reads the store
    await here.remember(ADA, "Said on replica one again")
    assert len(await there.user(ADA)) == 1  # its copy is not a minute old yet
    assert len(await there.user(ADA, fresh=True)) == 2  # /memory rereads
    await here.remember(ADA, "A third")
    await clock.advance(60)
    assert len(await there.user(ADA)) == 3  # older than refresh_s: read again
    own = FactStore((await backend.open_storage()).records, MemoryConfig(), clock)
    await own.remember(ADA, "file store: no refresh")
    await clock.advance(3600)
    assert len(await own.user(ADA)) == 4  # its own writes are in its cache at once
