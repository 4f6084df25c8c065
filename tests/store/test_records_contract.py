"""The RecordStore and Inbox contract, run against every backend through `create_storage`.

Tests here use only the `Storage` interfaces (records, inbox) and the conversation settings
built on them. To run them against another backend, add its name to the `backend` fixture's
params and a config branch: every call of `open_storage` must return a new, opened client of
the *same* storage, as a second process (or a restart) would.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from src.config import DynamoDBStoreConfig, FileStoreConfig, StoreConfig
from src.conversation import settings
from src.errors import ConversationError, RecordConflictError
from src.store import InboxItem, Record, Storage, create_storage
from tests.peers.dynamodb import shared_endpoint, use_endpoint

KIND = "note"
STORE_CALLS = "assistant_store_operation_duration_seconds_count"


@dataclass
class Backend:
    name: str
    open_storage: Callable[[], Awaitable[Storage]]


@pytest.fixture(params=["file", "moto", "dynalite"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    opened: list[Storage] = []
    if request.param == "file":
        config = StoreConfig(type="file", file=FileStoreConfig(directory=str(tmp_path / "store")))
    elif request.param in ("moto", "dynalite"):
        # A server per session (a child process on a free port), a fresh table per test.
        use_endpoint(monkeypatch, shared_endpoint(request.param))
        table = f"records-{uuid.uuid4().hex[:12]}"
        config = StoreConfig(
            type="dynamodb", dynamodb=DynamoDBStoreConfig(table=table, create_table=True)
        )
    else:  # pragma: no cover - a param without a branch
        raise AssertionError(f"no backend {request.param!r}")

    async def open_storage() -> Storage:
        storage = create_storage(config)
        await storage.open()
        opened.append(storage)
        return storage

    yield Backend(request.param, open_storage)
    for storage in opened:
        await storage.close()


@pytest.fixture
async def storage(backend: Backend) -> Storage:
    return await backend.open_storage()


def keys(records: list[Record]) -> list[str]:
    return [r.key for r in records]


# -- get / put / delete -------------------------------------------------------------------


async def test_ping(storage: Storage) -> None:
    await storage.ping()
    await storage.records.ping()


async def test_get_of_a_missing_record_is_none(storage: Storage) -> None:
    assert await storage.records.get(KIND, "nobody") is None


async def test_put_at_version_0_creates_version_1(storage: Storage) -> None:
    records = storage.records
    stored = await records.put(Record(KIND, "a", {"n": 1}, user_id=7, due_at=100.0))
    assert stored.version == 1
    assert stored.updated_at > 0
    assert (stored.kind, stored.key, stored.data) == (KIND, "a", {"n": 1})
    assert (stored.user_id, stored.due_at) == (7, 100.0)

    assert await records.get(KIND, "a") == stored  # returned as stored


async def test_put_at_the_stored_version_replaces_and_bumps_it(storage: Storage) -> None:
    records = storage.records
    first = await records.put(Record(KIND, "a", {"n": 1}))
    second = await records.put(first.changed(data={"n": 2}))
    assert second.version == 2
    assert second.updated_at >= first.updated_at
    got = await records.get(KIND, "a")
    assert got is not None and (got.version, got.data) == (2, {"n": 2})


async def test_put_at_a_stale_version_raises_conflict(storage: Storage) -> None:
    records = storage.records
    first = await records.put(Record(KIND, "a", {"n": 1}))
    await records.put(first.changed(data={"n": 2}))
    with pytest.raises(RecordConflictError):
        await records.put(first.changed(data={"lost": True}))  # version 1, stored 2
    with pytest.raises(RecordConflictError):
        await records.put(first.changed(version=5, data={"ahead": True}))
    got = await records.get(KIND, "a")
    assert got is not None and (got.version, got.data) == (2, {"n": 2})


async def test_put_at_version_0_over_an_existing_record_raises_conflict(storage: Storage) -> None:
    records = storage.records
    await records.put(Record(KIND, "a", {"n": 1}))
    with pytest.raises(RecordConflictError):
        await records.put(Record(KIND, "a", {"n": "again"}))
    got = await records.get(KIND, "a")
    assert got is not None and (got.version, got.data) == (1, {"n": 1})


async def test_put_at_a_version_of_a_missing_record_raises_conflict(storage: Storage) -> None:
    with pytest.raises(RecordConflictError):
        await storage.records.put(Record(KIND, "never", {"n": 1}, version=3))
    assert await storage.records.get(KIND, "never") is None


async def test_conflict_is_a_conversation_error() -> None:
    assert issubclass(RecordConflictError, ConversationError)


async def test_kinds_are_separate_namespaces(storage: Storage) -> None:
    records = storage.records
    await records.put(Record("note", "same", {"kind": "note"}))
    await records.put(Record("other", "same", {"kind": "other"}))
    note, other = await records.get("note", "same"), await records.get("other", "same")
    assert note is not None and note.data == {"kind": "note"}
    assert other is not None and other.data == {"kind": "other"}
    await records.delete("note", "same")
    assert await records.get("note", "same") is None
    assert await records.get("other", "same") is not None


async def test_delete_without_a_version_is_unconditional(storage: Storage) -> None:
    records = storage.records
    first = await records.put(Record(KIND, "a", {"n": 1}))
    await records.put(first.changed(data={"n": 2}))
    await records.delete(KIND, "a")
    assert await records.get(KIND, "a") is None


async def test_delete_of_a_missing_record_is_fine(storage: Storage) -> None:
    await storage.records.delete(KIND, "nobody")
    await storage.records.delete(KIND, "nobody", version=3)
    assert await storage.records.get(KIND, "nobody") is None


async def test_delete_at_a_stale_version_raises_conflict(storage: Storage) -> None:
    records = storage.records
    first = await records.put(Record(KIND, "a", {"n": 1}))
    second = await records.put(first.changed(data={"n": 2}))
    with pytest.raises(RecordConflictError):
        await records.delete(KIND, "a", version=first.version)
    assert await records.get(KIND, "a") is not None
    await records.delete(KIND, "a", version=second.version)
    assert await records.get(KIND, "a") is None


async def test_a_record_can_be_created_again_after_delete(storage: Storage) -> None:
    records = storage.records
    await records.put(Record(KIND, "a", {"n": 1}))
    await records.delete(KIND, "a")
    again = await records.put(Record(KIND, "a", {"n": "new"}))
    assert again.version == 1
    got = await records.get(KIND, "a")
    assert got is not None and got.data == {"n": "new"}


# -- find ---------------------------------------------------------------------------------


async def test_find_by_user_is_newest_first_and_only_that_kind_and_user(storage: Storage) -> None:
    records = storage.records
    for name in ("u1-old", "u1-mid", "u1-new"):  # written in this order: oldest first
        await records.put(Record(KIND, name, {"name": name}, user_id=1))
    await records.put(Record(KIND, "u2", {}, user_id=2))
    await records.put(Record("other", "other-u1", {}, user_id=1))
    await records.put(Record(KIND, "no-user", {}))

    found = await records.find(KIND, user_id=1)
    assert keys(found) == ["u1-new", "u1-mid", "u1-old"]
    assert all(r.kind == KIND and r.user_id == 1 for r in found)
    assert found[0].data == {"name": "u1-new"} and found[0].version == 1
    assert keys(await records.find(KIND, user_id=2)) == ["u2"]
    assert keys(await records.find("other", user_id=1)) == ["other-u1"]
    assert await records.find(KIND, user_id=3) == []


async def test_find_by_user_respects_limit(storage: Storage) -> None:
    records = storage.records
    for i in range(5):
        await records.put(Record(KIND, f"r{i}", {"i": i}, user_id=1))
    assert keys(await records.find(KIND, user_id=1, limit=2)) == ["r4", "r3"]
    assert keys(await records.find(KIND, user_id=1, limit=1)) == ["r4"]
    assert len(await records.find(KIND, user_id=1, limit=100)) == 5


async def test_find_by_user_follows_rewrites(storage: Storage) -> None:
    records = storage.records
    first = await records.put(Record(KIND, "a", {}, user_id=1))
    await records.put(Record(KIND, "b", {}, user_id=1))
    await records.put(first.changed(data={"touched": True}))  # "a" is now the newest
    assert keys(await records.find(KIND, user_id=1)) == ["a", "b"]


async def test_find_by_due_is_soonest_first_and_excludes_later(storage: Storage) -> None:
    records = storage.records
    await records.put(Record(KIND, "late", {}, due_at=300.0))
    await records.put(Record(KIND, "soon", {}, due_at=100.0))
    await records.put(Record(KIND, "mid", {}, due_at=200.5))
    await records.put(Record(KIND, "undated", {}))
    await records.put(Record(KIND, "user-only", {}, user_id=1))
    await records.put(Record("other", "other-soon", {}, due_at=50.0))

    assert keys(await records.find(KIND, due_before=250.0)) == ["soon", "mid"]
    assert keys(await records.find(KIND, due_before=200.5)) == ["soon", "mid"]  # at, included
    assert keys(await records.find(KIND, due_before=99.0)) == []
    found = await records.find(KIND, due_before=math.inf)
    assert keys(found) == ["soon", "mid", "late"]
    assert [r.due_at for r in found] == [100.0, 200.5, 300.0]
    assert keys(await records.find(KIND, due_before=math.inf, limit=2)) == ["soon", "mid"]
    assert keys(await records.find("other", due_before=math.inf)) == ["other-soon"]


async def test_find_by_due_with_real_timestamps(storage: Storage) -> None:
    records = storage.records
    base = 1_796_418_165.25
    for i in (3, 1, 2):
        await records.put(Record(KIND, f"t{i}", {}, due_at=base + i * 0.5))
    assert keys(await records.find(KIND, due_before=base + 1.0)) == ["t1", "t2"]
    assert keys(await records.find(KIND, due_before=math.inf)) == ["t1", "t2", "t3"]


async def test_find_by_due_includes_a_record_due_exactly_then(storage: Storage) -> None:
    """ "At or before" holds at full float precision (a time.time() value has more digits than
    a microsecond), and due_at reads back exactly as it was put."""
    records = storage.records
    due = 1_796_419_122.1083236
    await records.put(Record(KIND, "exact", {}, due_at=due))
    (found,) = await records.find(KIND, due_before=due)
    assert found.due_at == due
    got = await records.get(KIND, "exact")
    assert got is not None and got.due_at == due


async def test_clearing_due_at_removes_the_record_from_the_due_index(storage: Storage) -> None:
    records = storage.records
    stored = await records.put(Record(KIND, "a", {}, user_id=1, due_at=10.0))
    assert keys(await records.find(KIND, due_before=math.inf)) == ["a"]
    await records.put(stored.changed(due_at=None))
    assert await records.find(KIND, due_before=math.inf) == []
    assert keys(await records.find(KIND, user_id=1)) == ["a"]  # still in the other index


async def test_clearing_user_id_removes_the_record_from_the_user_index(storage: Storage) -> None:
    records = storage.records
    stored = await records.put(Record(KIND, "a", {}, user_id=1, due_at=10.0))
    assert keys(await records.find(KIND, user_id=1)) == ["a"]
    await records.put(stored.changed(user_id=None))
    assert await records.find(KIND, user_id=1) == []
    assert keys(await records.find(KIND, due_before=math.inf)) == ["a"]


async def test_changing_user_id_moves_the_record(storage: Storage) -> None:
    records = storage.records
    stored = await records.put(Record(KIND, "a", {}, user_id=1))
    await records.put(stored.changed(user_id=2))
    assert await records.find(KIND, user_id=1) == []
    assert keys(await records.find(KIND, user_id=2)) == ["a"]


async def test_a_deleted_record_leaves_both_indexes(storage: Storage) -> None:
    records = storage.records
    await records.put(Record(KIND, "a", {}, user_id=1, due_at=10.0))
    await records.delete(KIND, "a")
    assert await records.find(KIND, user_id=1) == []
    assert await records.find(KIND, due_before=math.inf) == []


@pytest.mark.parametrize(
    "arguments", [{}, {"user_id": 1, "due_before": 10.0}], ids=["neither", "both"]
)
async def test_find_needs_exactly_one_index(storage: Storage, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        await storage.records.find(KIND, **arguments)


async def test_find_needs_a_positive_limit(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.records.find(KIND, user_id=1, limit=0)


# -- update -------------------------------------------------------------------------------


async def test_update_creates_then_changes(storage: Storage) -> None:
    records = storage.records
    seen: list[Record] = []

    def count(record: Record) -> Record:
        seen.append(record)
        return record.changed(data={"n": record.data.get("n", 0) + 1}, user_id=5)

    created = await records.update(KIND, "c", count)
    assert created is not None and (created.version, created.data) == (1, {"n": 1})
    assert (seen[0].version, seen[0].data) == (0, {})  # "none yet": version 0, empty data
    changed = await records.update(KIND, "c", count)
    assert changed is not None and (changed.version, changed.data) == (2, {"n": 2})
    assert keys(await records.find(KIND, user_id=5)) == ["c"]


async def test_update_returning_the_same_object_writes_nothing(storage: Storage) -> None:
    records = storage.records
    assert await records.update(KIND, "missing", lambda r: r) is None
    assert await records.get(KIND, "missing") is None  # not created

    stored = await records.put(Record(KIND, "a", {"n": 1}))
    before = await records.get(KIND, "a")
    result = await records.update(KIND, "a", lambda r: r)
    assert result is not None and (result.version, result.data) == (1, {"n": 1})
    after = await records.get(KIND, "a")
    assert after == before
    assert after is not None and after.version == stored.version


async def test_update_returning_none_deletes(storage: Storage) -> None:
    records = storage.records
    await records.put(Record(KIND, "a", {"n": 1}, user_id=1))
    assert await records.update(KIND, "a", lambda r: None) is None
    assert await records.get(KIND, "a") is None
    assert await records.find(KIND, user_id=1) == []
    assert await records.update(KIND, "missing", lambda r: None) is None  # no error


async def test_update_ignores_the_version_of_the_returned_record(storage: Storage) -> None:
    """`update` writes over the record it read, whatever version `change` returns."""
    records = storage.records
    await records.put(Record(KIND, "a", {"n": 1}))
    result = await records.update(KIND, "a", lambda r: Record(KIND, "a", {"n": "new"}))
    assert result is not None and (result.version, result.data) == (2, {"n": "new"})


async def test_concurrent_updates_from_two_storages_lose_nothing(backend: Backend) -> None:
    """Two clients of one storage (two processes) increment one counter: none is lost."""
    first, second = await backend.open_storage(), await backend.open_storage()
    per_storage = 12

    def increment(record: Record) -> Record:
        return record.changed(data={"n": record.data.get("n", 0) + 1})

    await asyncio.gather(
        *(
            storage.records.update(KIND, "counter", increment)
            for _ in range(per_storage)
            for storage in (first, second)
        )
    )
    for storage in (first, second):
        got = await storage.records.get(KIND, "counter")
        assert got is not None
        assert got.data == {"n": 2 * per_storage}
        assert got.version == 2 * per_storage


async def test_a_second_storage_sees_what_the_first_wrote(backend: Backend) -> None:
    first = await backend.open_storage()
    await first.records.put(Record(KIND, "a", {"n": 1}, user_id=3, due_at=5.0))
    second = await backend.open_storage()
    got = await second.records.get(KIND, "a")
    assert got is not None and (got.version, got.data) == (1, {"n": 1})
    assert keys(await second.records.find(KIND, user_id=3)) == ["a"]
    with pytest.raises(RecordConflictError):  # the first's view is stale now
        await first.records.put(Record(KIND, "a", {"n": "first"}))


# -- add (counters) ------------------------------------------------------------------------

BUDGET = "budget"


async def test_add_creates_the_record_at_the_amounts(storage: Storage) -> None:
    records = storage.records
    created = await records.add(BUDGET, "u1:2025-06", {"tokens": 120, "micro_usd": 35})
    assert (created.kind, created.key) == (BUDGET, "u1:2025-06")
    assert created.data == {"tokens": 120, "micro_usd": 35}
    assert created.version == 1 and created.updated_at > 0
    assert created.user_id is None and created.due_at is None
    assert await records.get(BUDGET, "u1:2025-06") == created  # returned as stored


async def test_add_sums_and_keeps_counters_a_later_add_leaves_out(storage: Storage) -> None:
    records = storage.records
    await records.add(BUDGET, "b", {"tokens": 100, "requests": 1})
    second = await records.add(BUDGET, "b", {"tokens": 50, "requests": 1, "usd_2": 7})
    assert second.data == {"tokens": 150, "requests": 2, "usd_2": 7}
    assert second.version == 2
    third = await records.add(BUDGET, "b", {"usd_2": -3})  # any int, negative too
    assert third.data == {"tokens": 150, "requests": 2, "usd_2": 4}
    assert third.version == 3
    got = await records.get(BUDGET, "b")
    assert got is not None and got.data == {"tokens": 150, "requests": 2, "usd_2": 4}
    assert all(type(total) is int for total in got.data.values())


async def test_add_with_no_amounts_writes_an_empty_counter_record(storage: Storage) -> None:
    created = await storage.records.add(BUDGET, "empty", {})
    assert (created.data, created.version) == ({}, 1)
    added = await storage.records.add(BUDGET, "empty", {"n": 2})
    assert (added.data, added.version) == ({"n": 2}, 2)


# moto 5.2.5 serves requests in threads and applies UpdateItem without a lock: it reads the
# item (creating it when missing), works out each ADD from what it read, then writes, so two
# UpdateItems on one item at once can both create it or add to the same old value. DynamoDB
# (and dynalite) apply the writes of one item one at a time; the SQLite file does too.
MOTO_UNLOCKED_UPDATE = pytest.mark.xfail(
    strict=False, reason="moto 5.2.5 applies concurrent UpdateItems on one item without a lock"
)


async def test_concurrent_adds_all_count(backend: Backend, request: pytest.FixtureRequest) -> None:
    """40 adds at once, from two clients of one storage (two processes): none is lost."""
    if backend.name == "moto":
        request.applymarker(MOTO_UNLOCKED_UPDATE)
    first, second = await backend.open_storage(), await backend.open_storage()
    amounts = [{"tokens": n, "requests": 1} for n in range(1, 41)]
    results = await asyncio.gather(
        *(
            storage.records.add(BUDGET, "shared", one)
            for one, storage in zip(amounts, [first, second] * 20, strict=True)
        )
    )
    expected = {"tokens": sum(range(1, 41)), "requests": 40}
    assert max(r.version for r in results) == 40
    assert sorted(r.data["requests"] for r in results) == list(range(1, 41))  # each saw its own
    for storage in (first, second):
        got = await storage.records.get(BUDGET, "shared")
        assert got is not None and got.data == expected and got.version == 40


async def test_add_with_a_user_id_puts_the_record_in_the_user_index(storage: Storage) -> None:
    records = storage.records
    await records.add(BUDGET, "day", {"tokens": 5}, user_id=42)
    await records.add(BUDGET, "month", {"tokens": 9}, user_id=42)
    await records.add(BUDGET, "day", {"tokens": 1})  # no user_id: the record keeps its own
    await records.add(BUDGET, "bot", {"tokens": 3})  # in no user's index
    found = await records.find(BUDGET, user_id=42)
    assert keys(found) == ["day", "month"]  # newest first: "day" was added to last
    assert [r.data for r in found] == [{"tokens": 6}, {"tokens": 9}]
    assert all(r.user_id == 42 for r in found)
    got = await records.get(BUDGET, "day")
    assert got is not None and got.user_id == 42
    assert await records.find(BUDGET, user_id=7) == []


async def test_delete_removes_a_counter_record_and_add_starts_again_at_0(
    storage: Storage,
) -> None:
    records = storage.records
    await records.add(BUDGET, "b", {"tokens": 10, "requests": 2}, user_id=1)
    await records.delete(BUDGET, "b")
    assert await records.get(BUDGET, "b") is None
    assert await records.find(BUDGET, user_id=1) == []
    again = await records.add(BUDGET, "b", {"tokens": 3})
    assert (again.data, again.version) == ({"tokens": 3}, 1)
    got = await records.get(BUDGET, "b")
    assert got is not None and got.data == {"tokens": 3}


async def test_delete_at_a_counter_record_s_version(storage: Storage) -> None:
    records = storage.records
    first = await records.add(BUDGET, "b", {"tokens": 1})
    await records.add(BUDGET, "b", {"tokens": 1})
    with pytest.raises(RecordConflictError):
        await records.delete(BUDGET, "b", version=first.version)
    await records.delete(BUDGET, "b", version=2)
    assert await records.get(BUDGET, "b") is None


async def test_a_second_storage_reads_the_counters(backend: Backend) -> None:
    first = await backend.open_storage()
    await first.records.add(BUDGET, "b", {"tokens": 2**40, "n": -1}, user_id=3)
    second = await backend.open_storage()
    got = await second.records.get(BUDGET, "b")
    assert got is not None and got.data == {"tokens": 2**40, "n": -1} and got.user_id == 3
    assert [r.data for r in await second.records.find(BUDGET, user_id=3)] == [got.data]


async def test_add_is_timed_as_its_own_operation(storage: Storage) -> None:
    """The metered wrapper passes `add` through: the backend's own, not an `update`."""

    def count(operation: str) -> float:
        labels = {"backend": storage.records.name, "operation": operation}
        found = REGISTRY.get_sample_value(STORE_CALLS, labels)
        return found or 0.0

    adds, updates = count("records_add"), count("records_update")
    await storage.records.add(BUDGET, "b", {"n": 1})
    assert (count("records_add") - adds, count("records_update") - updates) == (1, 0)


@pytest.mark.parametrize("name", ["", "Tokens", "micro-usd", "usd.total", "a b", "é", "#c0", "n\n"])
async def test_a_bad_counter_name_raises_value_error(storage: Storage, name: str) -> None:
    with pytest.raises(ValueError):
        await storage.records.add(BUDGET, "b", {"ok": 1, name: 1})
    assert await storage.records.get(BUDGET, "b") is None  # nothing written


@pytest.mark.parametrize("amount", [1.5, "1", None, True])
async def test_an_amount_that_is_not_an_int_raises_type_error(
    storage: Storage, amount: Any
) -> None:
    with pytest.raises(TypeError):
        await storage.records.add(BUDGET, "b", {"n": amount})
    assert await storage.records.get(BUDGET, "b") is None


async def test_add_checks_the_kind_and_key_like_every_method(storage: Storage) -> None:
    with pytest.raises(ConversationError):
        await storage.records.add("Bad-Kind", "b", {"n": 1})
    with pytest.raises(ConversationError):
        await storage.records.add(BUDGET, "x" * 1025, {"n": 1})


# -- data and names -----------------------------------------------------------------------

ROUND_TRIP = {
    "text": "plain",
    "unicode": "rtl שלום مرحبا cjk 漢字 combining e\u0301 zwj \u200d bom \ufeff sep\u2028",
    "emoji": "😀👍🏽👨‍👩‍👧",
    "control": 'nul \x00 tab\t newline\n cr\r quote" backslash\\',
    "lone surrogates": "lone \udc80 low and \ud800 high",
    "key \udc80": "a lone surrogate in a key",
    "nested": {"list": [1, 2.5, None, True, False, "x", [], {}], "deep": {"a": {"b": {"c": []}}}},
    "numbers": {"zero": 0, "negative": -3, "float": 0.1, "big": 2**62, "tiny": 1e-300},
    "looks like json": '{"role":"user"}\n{"broken',
    "long": "long text 😀 " * 400,  # over 1 KB: DynamoDB stores it compressed
    "": "an empty key",
}


async def test_data_round_trips(storage: Storage) -> None:
    records = storage.records
    stored = await records.put(Record(KIND, "data", ROUND_TRIP))
    assert stored.data == ROUND_TRIP
    got = await records.get(KIND, "data")
    assert got is not None and got.data == ROUND_TRIP
    await records.put(Record(KIND, "indexed", ROUND_TRIP, user_id=9, due_at=1.0))
    (by_user,) = await records.find(KIND, user_id=9)
    (by_due,) = await records.find(KIND, due_before=math.inf)
    assert by_user.data == ROUND_TRIP and by_due.data == ROUND_TRIP


async def test_data_round_trips_for_a_second_storage(backend: Backend) -> None:
    first = await backend.open_storage()
    await first.records.put(Record(KIND, "data", ROUND_TRIP))
    second = await backend.open_storage()
    got = await second.records.get(KIND, "data")
    assert got is not None and got.data == ROUND_TRIP


async def test_empty_data_round_trips(storage: Storage) -> None:
    await storage.records.put(Record(KIND, "empty", {}))
    got = await storage.records.get(KIND, "empty")
    assert got is not None and got.data == {} and got.version == 1


HOSTILE_KEYS = [
    "../../etc/passwd",
    "a#b",
    "#",
    "r#note#x",
    "日本",
    "😀",
    " spaced ",
    "new\nline",
    "x" * 1024,
    "é" * 512,  # 1024 bytes in UTF-8
    "-100200:7",
]


async def test_hostile_keys_round_trip(storage: Storage) -> None:
    records = storage.records
    for i, key in enumerate(HOSTILE_KEYS):
        await records.put(Record(KIND, key, {"key": key}, user_id=1, due_at=float(i)))
    for key in HOSTILE_KEYS:
        got = await records.get(KIND, key)
        assert got is not None and (got.key, got.data) == (key, {"key": key})
    # The keys come back as they were from both indexes too.
    assert keys(await records.find(KIND, due_before=math.inf)) == HOSTILE_KEYS
    assert sorted(keys(await records.find(KIND, user_id=1))) == sorted(HOSTILE_KEYS)
    await records.delete(KIND, "a#b")
    assert await records.get(KIND, "a#b") is None
    assert await records.get(KIND, "a") is None and await records.get(KIND, "#") is not None


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (KIND, "x" * 1025),
        (KIND, "é" * 512 + "x"),  # 1025 bytes
        (KIND, ""),
        (KIND, "lone \udc80"),  # not UTF-8 text
        ("Bad-Kind", "k"),
        ("", "k"),
        ("kind1", "k"),
        ("kind#x", "k"),
    ],
    ids=[
        "1025-bytes",
        "1025-bytes-utf8",
        "empty-key",
        "surrogate-key",
        "Bad-Kind",
        "empty-kind",
        "digit-kind",
        "hash-kind",
    ],
)
async def test_unusable_names_raise_conversation_error(
    storage: Storage, kind: str, key: str
) -> None:
    records = storage.records
    with pytest.raises(ConversationError):
        await records.get(kind, key)
    with pytest.raises(ConversationError):
        await records.put(Record(kind, key, {}))
    with pytest.raises(ConversationError):
        await records.delete(kind, key)
    with pytest.raises(ConversationError):
        await records.update(kind, key, lambda r: r.changed(data={"n": 1}))


# -- the inbox ----------------------------------------------------------------------------


def item(update_id: int, text: str = "", **fields: Any) -> InboxItem:
    return InboxItem(update_id=update_id, kind="text", text=text or f"u{update_id}", **fields)


def owed(pending: list[tuple[str, list[InboxItem]]]) -> list[tuple[str, list[int]]]:
    return [(cid, [i.update_id for i in items]) for cid, items in pending]


async def test_inbox_is_empty_at_first(storage: Storage) -> None:
    assert await storage.inbox.pending() == []


async def test_inbox_accept_stores_the_item_whole(storage: Storage) -> None:
    full = InboxItem(
        update_id=12,
        kind="text",
        text="still owed 😀 \udc80",
        user_id=42,
        chat_id=-100200,
        thread_id=7,
        message_id=120,
        extra={"chat_type": "supergroup", "nested": {"list": [1, None]}},
    )
    assert await storage.inbox.accept("-100200:7", full) is True
    assert await storage.inbox.pending() == [("-100200:7", [full])]


async def test_inbox_pending_is_in_update_order_oldest_conversation_first(
    storage: Storage,
) -> None:
    inbox = storage.inbox
    assert await inbox.accept("a", item(5))
    assert await inbox.accept("b", item(3))
    assert await inbox.accept("a", item(7))
    assert await inbox.accept("c", item(4))
    assert await inbox.accept("b", item(9))
    pending = await inbox.pending()
    assert owed(pending) == [("b", [3, 9]), ("c", [4]), ("a", [5, 7])]
    assert [i.text for i in pending[0][1]] == ["u3", "u9"]


async def test_inbox_refuses_a_repeated_or_older_update(storage: Storage) -> None:
    inbox = storage.inbox
    assert await inbox.accept("a", item(5)) is True
    assert await inbox.accept("a", item(5, "again")) is False
    assert await inbox.accept("a", item(4, "older")) is False
    assert await inbox.accept("b", item(4)) is True  # ids are per conversation
    assert owed(await inbox.pending()) == [("b", [4]), ("a", [5])]
    assert [i.text for _, items in await inbox.pending() for i in items] == ["u4", "u5"]


async def test_inbox_done_removes_one_item(storage: Storage) -> None:
    inbox = storage.inbox
    for update_id in (1, 2, 3):
        await inbox.accept("a", item(update_id))
    await inbox.accept("b", item(4))
    await inbox.done("a", 2)
    assert owed(await inbox.pending()) == [("a", [1, 3]), ("b", [4])]
    await inbox.done("a", 1)
    assert owed(await inbox.pending()) == [("a", [3]), ("b", [4])]


async def test_inbox_conversation_leaves_pending_when_nothing_is_left(storage: Storage) -> None:
    inbox = storage.inbox
    await inbox.accept("a", item(1))
    await inbox.accept("a", item(2))
    await inbox.accept("b", item(3))
    await inbox.done("a", 1)
    await inbox.done("a", 2)
    assert owed(await inbox.pending()) == [("b", [3])]
    # It left the due index too, not only the answer.
    assert keys(await storage.records.find("inbox", due_before=math.inf)) == ["b"]
    await inbox.done("b", 3)
    assert await inbox.pending() == []
    assert await storage.records.find("inbox", due_before=math.inf) == []


async def test_inbox_still_refuses_an_answered_update(storage: Storage) -> None:
    inbox = storage.inbox
    await inbox.accept("a", item(1))
    await inbox.done("a", 1)
    assert await inbox.accept("a", item(1, "re-delivered")) is False
    assert await inbox.pending() == []
    assert await inbox.accept("a", item(2)) is True
    assert owed(await inbox.pending()) == [("a", [2])]


async def test_inbox_done_of_an_unknown_item_changes_nothing(storage: Storage) -> None:
    inbox = storage.inbox
    await inbox.done("nobody", 1)  # no error, no record
    assert await storage.records.get("inbox", "nobody") is None
    await inbox.accept("a", item(1))
    before = await storage.records.get("inbox", "a")
    await inbox.done("a", 99)
    assert await storage.records.get("inbox", "a") == before
    assert owed(await inbox.pending()) == [("a", [1])]


async def test_inbox_a_restart_sees_the_same_pending_items(backend: Backend) -> None:
    first = await backend.open_storage()
    await first.inbox.accept("a", item(2, user_id=1, chat_id=10))
    await first.inbox.accept("b", item(1, "b's"))
    await first.inbox.accept("a", item(3))
    expected = await first.inbox.pending()
    assert owed(expected) == [("b", [1]), ("a", [2, 3])]
    await first.close()

    second = await backend.open_storage()
    assert await second.inbox.pending() == expected
    assert await second.inbox.accept("a", item(3)) is False  # the last id survived too
    await second.inbox.done("a", 2)
    assert owed(await second.inbox.pending()) == [("b", [1]), ("a", [3])]


async def test_inbox_pending_ignores_an_index_entry_with_nothing_owed(storage: Storage) -> None:
    """The record decides, not its index entry (which may lag on some backends)."""
    await storage.records.put(
        Record("inbox", "stale", {"pending": [], "last_update_id": 5}, due_at=1.0)
    )
    await storage.records.put(Record("inbox", "empty", {}, due_at=2.0))
    assert len(await storage.records.find("inbox", due_before=math.inf)) == 2
    assert await storage.inbox.pending() == []
    await storage.inbox.accept("real", item(1))
    assert owed(await storage.inbox.pending()) == [("real", [1])]


async def test_inbox_concurrent_accepts_from_two_storages_keep_every_item(
    backend: Backend,
) -> None:
    first, second = await backend.open_storage(), await backend.open_storage()
    results = await asyncio.gather(
        *(
            storage.inbox.accept("a", item(update_id))
            for update_id, storage in zip(range(1, 11), [first, second] * 5, strict=True)
        )
    )
    # Each accept is refused only if a newer id got in first; what was accepted is all kept.
    accepted = [update_id for update_id, ok in zip(range(1, 11), results, strict=True) if ok]
    assert 10 in accepted
    pending = await first.inbox.pending()
    assert owed(pending) == [("a", accepted)]


# -- the conversation record (settings and usage) ------------------------------------------


async def test_settings_of_an_unknown_conversation_are_empty(storage: Storage) -> None:
    assert await settings.load(storage.records, "nobody") == {}
    await settings.forget(storage.records, "nobody")  # no error


async def test_settings_change_load_forget(backend: Backend) -> None:
    storage = await backend.open_storage()
    records = storage.records

    def pin(data: dict[str, Any]) -> None:
        data["pinned_agent"] = "coder"
        data["token_ratio"] = 1.25

    assert await settings.change(records, "1001", pin) == {
        "pinned_agent": "coder",
        "token_ratio": 1.25,
    }

    def use(data: dict[str, Any]) -> None:
        usage = data.setdefault("usage", {}).setdefault("gpt-4o-mini", {"requests": 0})
        usage["requests"] += 1

    stored = await settings.change(records, "1001", use)
    expected = {
        "pinned_agent": "coder",
        "token_ratio": 1.25,
        "usage": {"gpt-4o-mini": {"requests": 1}},
    }
    assert stored == expected
    assert await settings.load(records, "1001") == expected
    assert await settings.load(records, "other") == {}

    loaded = await settings.load(records, "1001")
    loaded["pinned_agent"] = "changed"  # a copy: changing it changes nothing stored
    assert await settings.load(records, "1001") == expected

    second = await backend.open_storage()
    assert await settings.load(second.records, "1001") == expected

    await settings.forget(records, "1001")
    assert await settings.load(records, "1001") == {}
    assert await settings.load(second.records, "1001") == {}


async def test_settings_changes_from_two_storages_lose_nothing(backend: Backend) -> None:
    first, second = await backend.open_storage(), await backend.open_storage()

    def count(data: dict[str, Any]) -> None:
        data["requests"] = data.get("requests", 0) + 1

    await asyncio.gather(
        *(settings.change(s.records, "c", count) for _ in range(6) for s in (first, second))
    )
    assert await settings.load(first.records, "c") == {"requests": 12}


async def test_add_many_adds_the_same_amounts_to_each_record(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    if backend.name == "moto":
        request.applymarker(MOTO_UNLOCKED_UPDATE)
    storage = await backend.open_storage()
    keys: dict[str, int | None] = {"u7:day": 7, "u7:month": 7, "bot:month": None}
    first = await storage.records.add_many("spend", keys, {"tokens": 10, "requests": 1})
    assert {k: r.data for k, r in first.items()} == {k: {"tokens": 10, "requests": 1} for k in keys}
    await asyncio.gather(
        *(storage.records.add_many("spend", keys, {"tokens": 5}) for _ in range(20))
    )
    for key in keys:
        record = await storage.records.get("spend", key)
        assert record is not None and record.data == {"tokens": 110, "requests": 1}
    by_user = await storage.records.find("spend", user_id=7)
    assert sorted(keys_of(by_user)) == ["u7:day", "u7:month"]  # the bot's is nobody's
    with pytest.raises(ValueError):
        await storage.records.add_many("spend", keys, {"Bad": 1})


def keys_of(records: list[Record]) -> list[str]:
    return [r.key for r in records]
