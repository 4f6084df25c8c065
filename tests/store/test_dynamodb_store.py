"""DynamoDB store behaviour beyond the shared contract: item layout, conditional writes,
retries, throttling, TTL, start-up checks. Runs against moto and dynalite (child processes),
some tests through DynamoDBProxy, which injects what neither server does on its own."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest

from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.errors import ConversationError
from src.store.dynamodb.codec import PART_BYTES, conversation_key
from src.store.dynamodb.conversations import DynamoDBStore
from src.store.dynamodb.records import DynamoDBRecords, record_key
from src.store.records import Record
from tests.harness import free_port
from tests.peers.dynamodb import Action, DynamoDBProxy, raw_client, shared_endpoint, use_endpoint


def records_of(store: DynamoDBStore) -> DynamoDBRecords:
    """The records on the same table and client, as create_storage pairs them."""
    return DynamoDBRecords(store.config, store.client)


Opener = Callable[..., Coroutine[Any, Any, DynamoDBStore]]


@pytest.fixture(params=["moto", "dynalite"])
def endpoint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = shared_endpoint(request.param)
    use_endpoint(monkeypatch, url)
    return url


@pytest.fixture
async def open_store(table: str) -> AsyncIterator[Opener]:
    """Open a store on this test's table (created on first open); all closed at the end."""
    opened: list[DynamoDBStore] = []

    async def open_store(**settings: Any) -> DynamoDBStore:
        store = DynamoDBStore(DynamoDBStoreConfig(table=table, create_table=True, **settings))
        opened.append(store)
        await store.open()
        return store

    yield open_store
    for store in opened:
        await store.close()


@pytest.fixture
def proxy(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBProxy]:
    """The store talks to the proxy, the proxy to the server."""
    with DynamoDBProxy(endpoint) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", running.url)
        yield running


async def raw(endpoint: str, operation: str, **params: Any) -> dict[str, Any]:
    """Look at (or tamper with) the table directly, as an operator or a crash would."""

    def call() -> dict[str, Any]:
        return getattr(raw_client(endpoint), operation)(**params)

    return await asyncio.to_thread(call)


async def items_of(endpoint: str, table: str, conversation_id: str) -> list[dict[str, Any]]:
    pk = conversation_key(conversation_id)
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    while True:
        answer = await raw(endpoint, "query", **params)
        found += answer["Items"]
        if "LastEvaluatedKey" not in answer:
            return found
        params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def random_text(chars: int, seed: int = 1) -> str:
    """Text zlib cannot shrink much (hex of random bytes: about 2:1)."""
    return random.Random(seed).randbytes(chars // 2).hex()


def user(text: str) -> Message:
    return Message(role="user", content=text)


# -- item layout ------------------------------------------------------------------------


async def test_a_huge_message_is_compressed_split_and_reads_back(
    endpoint: str, table: str, open_store: Opener
) -> None:
    store = await open_store()
    huge = Message(role="tool", content=random_text(1_600_000), tool_call_id="call_1")
    history = [user("before"), huge, user("after")]
    await store.append_messages("c", history)

    items = await items_of(endpoint, table, "c")
    messages = [i for i in items if int(i["sk"]["N"]) > 0]
    parts = [i for i in messages if "parts" in i]
    assert len(parts) == 3  # 1.6 MB of hex -> about 800 KB compressed -> 3 items
    assert all(len(i["d"]["B"]) <= PART_BYTES and "z" in i for i in parts)
    assert await store.load_recent("c", None) == history
    for limit in (1, 2, 3):
        assert await store.load_recent("c", limit) == history[-limit:]


async def test_long_text_is_stored_compressed_and_short_text_readable(
    endpoint: str, table: str, open_store: Opener
) -> None:
    store = await open_store()
    await store.append_messages("c", [user("short"), user("long " * 2000)])
    short, long = sorted(
        (i for i in await items_of(endpoint, table, "c") if int(i["sk"]["N"]) > 0),
        key=lambda i: int(i["sk"]["N"]),
    )
    assert '"short"' in short["d"]["S"]
    assert "z" in long and len(long["d"]["B"]) < 1000  # 10 KB of text


async def test_full_loads_page_past_one_megabyte(proxy: DynamoDBProxy, open_store: Opener) -> None:
    store = await open_store()
    history = [user(random_text(500_000, seed=i)) for i in range(6)]  # about 250 KB stored each
    for message in history:
        await store.append_messages("c", [message])
    proxy.requests.clear()
    assert await store.load_recent("c", None) == history
    assert sum(1 for operation, _ in proxy.requests if operation == "Query") >= 2


async def test_the_window_is_one_descending_query_with_a_limit(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store()
    await store.append_messages("c", [user(f"m{i}") for i in range(300)])
    proxy.requests.clear()
    window = await store.load_recent("c", 20)
    assert [m.content for m in window] == [f"m{i}" for i in range(280, 300)]
    assert [operation for operation, _ in proxy.requests] == ["Query"]
    query = proxy.requests[0][1]
    assert query["Limit"] == 20 and query["ScanIndexForward"] is False


async def test_listing_and_finding_records_never_scan(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store()
    records = records_of(store)
    for n, cid in enumerate(("a", "b", "c")):
        await store.append_messages(cid, [user(cid)])
        due = None if cid == "b" else float(n)
        await records.put(Record("inbox", cid, {"n": n}, user_id=7, due_at=due))
    assert {i.conversation_id for i in await store.list_conversations()} == {"a", "b", "c"}
    assert [r.key for r in await records.find("inbox", due_before=math.inf)] == ["a", "c"]
    assert [r.key for r in await records.find("inbox", user_id=7)] == ["c", "b", "a"]
    assert "Scan" not in proxy.seen
    indexes = {body["IndexName"] for operation, body in proxy.requests if body.get("IndexName")}
    assert indexes == {"by_updated", "records_by_due", "records_by_user"}


# -- never overwrite, never lose ----------------------------------------------------------


async def test_an_answer_lost_after_a_put_is_not_a_duplicate(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store()
    # The first PutItem reaches the table but its answer is lost: botocore retries it, the
    # retry finds the key taken, and the store recognises its own item.
    proxy.decide = lambda operation, n: (
        "lose_answer" if operation == "PutItem" and n == 1 else "forward"
    )
    await store.append_messages("c", [user("once")])
    assert proxy.done["lose_answer"] == 1
    assert [m.content for m in await store.load_recent("c", None)] == ["once"]


async def test_an_answer_lost_after_a_record_write_does_not_rerun_the_change(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    records = records_of(await open_store())
    runs = 0

    def bump(record: Record) -> Record:
        nonlocal runs
        runs += 1
        return record.changed(data={"n": record.data.get("n", 0) + 1})

    # Both the first write (the record is new) and a later one (at a version) lose their
    # answer: botocore retries each, the retry fails the condition on our own write, and
    # the write token tells the store the write was its own.
    proxy.decide = lambda operation, n: (
        "lose_answer" if operation == "PutItem" and n in (1, 2) else "forward"
    )
    for expected in (1, 2):
        stored = await records.update("conversation", "c", bump)
        assert stored is not None and stored.data == {"n": expected}
    assert proxy.done["lose_answer"] == 2 and runs == 2
    got = await records.get("conversation", "c")
    assert got is not None and got.data == {"n": 2} and got.version == 2


async def test_an_add_is_one_update_item_of_top_level_counters(
    proxy: DynamoDBProxy, endpoint: str, table: str, open_store: Opener
) -> None:
    records = records_of(await open_store())
    before = dict(proxy.seen)
    await records.add("budget", "b", {"tokens": 7, "micro_usd": 3}, user_id=42)
    added = await records.add("budget", "b", {"tokens": 1})
    assert added.data == {"tokens": 8, "micro_usd": 3} and added.version == 2
    calls = {op: n - before.get(op, 0) for op, n in proxy.seen.items() if n != before.get(op)}
    assert calls == {"UpdateItem": 2}  # no read, no retry
    item = (await raw(endpoint, "get_item", TableName=table, Key=record_key("budget", "b")))["Item"]
    assert set(item) == {
        "pk",
        "sk",
        "ver",
        "updated_at",
        "w",
        "uk",
        "uid",
        "c_tokens",
        "c_micro_usd",
    }
    assert (item["c_tokens"], item["c_micro_usd"], item["ver"]) == (
        {"N": "8"},
        {"N": "3"},
        {"N": "2"},
    )
    assert (item["uk"], item["uid"]) == ({"S": "budget#42"}, {"N": "42"})


async def test_an_answer_lost_after_an_add_does_not_count_twice(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    records = records_of(await open_store())
    first = proxy.seen["UpdateItem"] + 1
    # The first UpdateItem reaches the table but its answer is lost: botocore sends the same
    # request again, which fails its condition on the add's own token; the store reads back.
    proxy.decide = lambda operation, n: (
        "lose_answer" if operation == "UpdateItem" and n == first else "forward"
    )
    added = await records.add("budget", "b", {"tokens": 5}, user_id=1)
    assert added.data == {"tokens": 5} and added.version == 1 and added.user_id == 1
    assert proxy.done["lose_answer"] == 1 and proxy.seen["UpdateItem"] == first + 1
    again = await records.add("budget", "b", {"tokens": 2})
    assert again.data == {"tokens": 7} and again.version == 2


async def test_an_add_retried_after_another_write_counts_twice(
    proxy: DynamoDBProxy, endpoint: str, table: str, open_store: Opener
) -> None:
    """The window `add` documents: another add lands between the lost answer and botocore's
    retry, so the token in the item is no longer this add's, and the retry adds again."""
    records = records_of(await open_store())
    first = proxy.seen["UpdateItem"] + 1

    def other_writer() -> None:
        raw_client(endpoint).update_item(
            TableName=table,
            Key=record_key("budget", "b"),
            UpdateExpression="ADD ver :one, c_tokens :one SET w = :w",
            ExpressionAttributeValues={":one": {"N": "1"}, ":w": {"S": "another"}},
        )

    def decide(operation: str, n: int) -> Action:
        if operation == "UpdateItem" and n == first:
            return "lose_answer"
        if operation == "UpdateItem" and n == first + 1:
            other_writer()  # before the retry reaches the table
        return "forward"

    proxy.decide = decide
    added = await records.add("budget", "b", {"tokens": 5})
    assert added.data == {"tokens": 11}  # 5 + 1 + 5: this add counted twice


@pytest.mark.parametrize("batch", [1, 40])
async def test_items_left_behind_are_never_overwritten(
    endpoint: str, table: str, open_store: Opener, batch: int
) -> None:
    """Items without a summary (a crash inside a delete, a manual restore): the counter
    starts again at 1, the conditional writes find the keys taken and write after them."""
    store = await open_store()
    pk = conversation_key("c")
    for seq in (1, 2, 3):
        data = f'{{"role":"user","content":"old{seq}"}}'
        item = {"pk": {"S": pk}, "sk": {"N": str(seq)}, "d": {"S": data}}
        await raw(endpoint, "put_item", TableName=table, Item=item)
    fresh = [user(f"new{i}") for i in range(batch)]
    await store.append_messages("c", fresh)
    got = [m.content for m in await store.load_recent("c", None)]
    assert got == ["old1", "old2", "old3"] + [f"new{i}" for i in range(batch)]
    await store.append_messages("c", [user("next")])  # the counter is past them now
    assert (await store.load_recent("c", 1))[0].content == "next"


async def test_a_save_that_never_committed_stays_invisible(
    endpoint: str, table: str, open_store: Opener
) -> None:
    store = await open_store()
    await store.append_messages("c", [user("kept")])
    # What a crash in the middle of save_conversation leaves: numbers reserved, items of
    # a generation written, its commit marker not.
    pk = conversation_key("c")
    await raw(
        endpoint,
        "update_item",
        TableName=table,
        Key={"pk": {"S": pk}, "sk": {"N": "0"}},
        UpdateExpression="SET last_seq = :reserved",
        ExpressionAttributeValues={":reserved": {"N": "3"}},
    )
    orphan = {
        "pk": {"S": pk},
        "sk": {"N": "2"},
        "gen": {"S": "crashed"},
        "d": {"S": '{"role":"user","content":"half-saved"}'},
    }
    await raw(endpoint, "put_item", TableName=table, Item=orphan)
    assert [m.content for m in await store.load_recent("c", None)] == ["kept"]
    await store.save_conversation("c", [user("replaced")])
    assert [m.content for m in await store.load_recent("c", None)] == ["replaced"]
    remaining = [i for i in await items_of(endpoint, table, "c") if int(i["sk"]["N"]) > 0]
    assert len(remaining) == 2  # the new message and its marker: the rest is deleted


async def test_a_torn_large_message_is_skipped_with_a_warning(
    endpoint: str, table: str, open_store: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_store()
    await store.append_messages("c", [user("a"), user(random_text(800_000)), user("b")])
    parts = [i for i in await items_of(endpoint, table, "c") if "parts" in i]
    first = min(parts, key=lambda i: int(i["sk"]["N"]))
    await raw(endpoint, "delete_item", TableName=table, Key={"pk": first["pk"], "sk": first["sk"]})
    with caplog.at_level(logging.WARNING):
        assert [m.content for m in await store.load_recent("c", None)] == ["a", "b"]
        assert [m.content for m in await store.load_recent("c", 2)] == ["a", "b"]
    assert "torn large message" in caplog.text


# -- throttling and unprocessed items -----------------------------------------------------


async def test_throttled_calls_are_retried_and_nothing_is_lost(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store()
    # The first call of each kind after start-up is throttled: PutItem, GetItem, UpdateItem,
    # Query (each costs a backoff of up to 1 s, and the adaptive limiter slows down).
    proxy.decide = lambda operation, n: "throttle" if n == 1 else "forward"
    records = records_of(store)
    await records.update("inbox", "c", lambda r: r.changed(data={"owed": [1]}, due_at=1.0))
    await store.append_messages("c", [user("hello")])
    await store.append_messages("c", [Message(role="assistant", content="hi")])
    assert [m.content for m in await store.load_recent("c", 10)] == ["hello", "hi"]
    assert [r.data for r in await records.find("inbox", due_before=2.0)] == [{"owed": [1]}]
    assert proxy.done["throttle"] == 4


async def test_throttling_that_outlasts_the_retries_is_a_short_error(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store(max_attempts=2)
    proxy.decide = lambda operation, n: "throttle" if operation == "UpdateItem" else "forward"
    with pytest.raises(ConversationError) as caught:
        await store.append_messages("c", [user("hello")])
    assert str(caught.value) == f"DynamoDB is throttling table {store.table} (still after 2 tries)"
    assert proxy.done["throttle"] == 2


async def test_unprocessed_batch_items_are_retried(
    proxy: DynamoDBProxy, open_store: Opener
) -> None:
    store = await open_store()
    proxy.decide = lambda operation, n: "unprocess_half" if n % 2 else "forward"
    history = [user(f"m{i}") for i in range(60)]
    await store.append_messages("c", history)  # a bulk write: BatchWriteItem
    assert await store.load_recent("c", None) == history
    await store.delete_conversation("c")
    assert await store.load_recent("c", None) == []
    assert await store.list_conversations() == []
    assert proxy.seen["BatchWriteItem"] >= 2 * 4  # every batch needed a second request


# -- TTL ----------------------------------------------------------------------------------


async def test_ttl_marks_items_and_expired_items_are_ignored(
    moto: str, table: str, open_store: Opener
) -> None:
    store = await open_store(ttl_days=30)
    ttl = await raw(moto, "describe_time_to_live", TableName=table)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }
    await store.append_messages("c", [user("old"), user("new")])
    items = await items_of(moto, table, "c")
    assert all("expires_at" in i for i in items)
    days = {round((int(i["expires_at"]["N"]) - time.time()) / 86400) for i in items}
    assert days == {30}
    # Past their expiry, before DynamoDB gets round to deleting them:
    for item in items:
        if '"old"' in item.get("d", {}).get("S", ""):
            await raw(
                moto,
                "update_item",
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET expires_at = :past",
                ExpressionAttributeValues={":past": {"N": "1000"}},
            )
    assert [m.content for m in await store.load_recent("c", None)] == ["new"]


# -- start-up and failures ----------------------------------------------------------------


async def test_a_missing_table_is_named_unless_create_table(endpoint: str, table: str) -> None:
    store = DynamoDBStore(DynamoDBStoreConfig(table=table))
    try:
        with pytest.raises(ConversationError) as caught:
            await store.open()
    finally:
        await store.close()
    assert f"DynamoDB table {table} does not exist" in str(caught.value)
    assert "create_table" in str(caught.value)


async def test_a_table_with_another_layout_is_refused(endpoint: str, table: str) -> None:
    await raw(
        endpoint,
        "create_table",
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = DynamoDBStore(DynamoDBStoreConfig(table=table))
    try:
        with pytest.raises(ConversationError) as caught:
            await store.open()
    finally:
        await store.close()
    assert "does not fit" in str(caught.value) and "its key must be pk" in str(caught.value)
    described = await raw(endpoint, "describe_table", TableName=table)
    assert not described["Table"].get("GlobalSecondaryIndexes")  # no index added to it


async def test_an_unreachable_endpoint_is_a_short_error(
    monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    use_endpoint(monkeypatch, f"http://127.0.0.1:{free_port()}")
    store = DynamoDBStore(DynamoDBStoreConfig(table=table, max_attempts=1, timeout_s=2))
    try:
        with pytest.raises(ConversationError) as caught:
            await store.open()
    finally:
        await store.close()
    assert str(caught.value) == "cannot reach DynamoDB"


async def test_missing_credentials_are_a_short_error(
    moto: str, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = DynamoDBStore(DynamoDBStoreConfig(table=table, max_attempts=1))
    try:
        with pytest.raises(ConversationError) as caught:
            await store.open()
    finally:
        await store.close()
    assert "no AWS credentials" in str(caught.value)


async def test_ping_and_describe(endpoint: str, table: str, open_store: Opener) -> None:
    store = await open_store()
    await store.ping()
    line = await store.describe()
    assert line.startswith(f"dynamodb table {table} (us-east-1): ACTIVE, on-demand")
    await raw(endpoint, "delete_table", TableName=table)
    with pytest.raises(ConversationError, match=f"table {table} (is DELETING|does not exist)"):
        await store.ping()  # DELETING for a moment on dynalite, then gone


async def test_an_unusable_conversation_id_is_refused(endpoint: str, open_store: Opener) -> None:
    store = await open_store()
    with pytest.raises(ConversationError, match="UTF-8"):
        await store.append_messages("bad \ud800", [user("x")])
    with pytest.raises(ConversationError, match="bytes"):
        await store.load_recent("x" * 2000, 5)
