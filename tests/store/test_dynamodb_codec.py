"""The DynamoDB item codec on its own: no server needed (pure functions)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from src.conversation.message import Message
from src.errors import ConversationError
from src.store.dynamodb.codec import (
    COMPRESS_OVER,
    PART_BYTES,
    HistoryReader,
    conversation_key,
    number,
    pack,
    pack_record,
    pending_sort_key,
    unpack,
)


def test_short_data_stays_readable_text() -> None:
    (item,) = pack({"role": "user", "content": "hello"})
    assert item == {"d": {"S": '{"role":"user","content":"hello"}'}}
    assert unpack([item]) == {"role": "user", "content": "hello"}


def test_long_text_is_compressed_when_that_pays() -> None:
    data = {"content": "the same words again " * 500}
    (item,) = pack(data)
    assert "z" in item and len(item["d"]["B"]) < COMPRESS_OVER
    assert unpack([item]) == data


def test_data_too_big_for_one_item_is_split_and_joins_back() -> None:
    data = {"content": random.Random(3).randbytes(800_000).hex()}  # ~850 KB compressed
    items = pack(data)
    assert len(items) == 3
    assert [(i["part"], i["parts"]) for i in items] == [(number(n), number(3)) for n in range(3)]
    assert all(len(i["d"]["B"]) <= PART_BYTES for i in items)
    assert unpack(items) == data


def test_text_that_is_not_valid_utf8_is_escaped_and_reads_back() -> None:
    data = {"content": "lone \ud800 surrogate"}
    (item,) = pack(data)
    item["d"]["S"].encode("utf-8")  # DynamoDB takes it
    assert unpack([item]) == data


def test_corrupt_compressed_data_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="compressed"):
        unpack([{"d": {"B": b"not zlib"}, "z": {"BOOL": True}}])


def test_a_metadata_record_must_fit_one_item() -> None:
    with pytest.raises(ConversationError, match="too large"):
        pack_record({"blob": random.Random(4).randbytes(800_000).hex()})


def test_conversation_keys() -> None:
    assert conversation_key("-100123:7") == "c#-100123:7"
    with pytest.raises(ConversationError):
        conversation_key("")
    assert pending_sort_key("a") != pending_sort_key("b")
    assert pending_sort_key("a") < 10**38  # fits DynamoDB's number precision


def item(seq: int, **attributes: Any) -> dict[str, Any]:
    return {"sk": number(seq), **attributes}


def message(seq: int, text: str, **attributes: Any) -> dict[str, Any]:
    return item(seq, **pack(Message(role="user", content=text).to_dict())[0], **attributes)


def read(items: list[dict[str, Any]], now: float = 0.0) -> list[str | None]:
    reader = HistoryReader(now, "test")
    for entry in items:  # newest first
        reader.feed(entry)
    reader.finish()
    return [m.content for m in reader.messages[::-1]]


def test_the_newest_commit_marker_hides_older_and_uncommitted_items() -> None:
    committed = {"gen": {"S": "g2"}}
    items = [
        message(9, "after the save"),
        message(8, "uncommitted", gen={"S": "g3"}),
        item(7, floor=number(5), gen={"S": "g2"}),
        message(6, "saved 2", **committed),
        message(5, "saved 1", **committed),
        message(4, "replaced"),
        item(3, floor=number(1), gen={"S": "g1"}),
        message(2, "older", gen={"S": "g1"}),
    ]
    assert read(items) == ["saved 1", "saved 2", "after the save"]


def test_expired_items_are_skipped() -> None:
    items = [message(2, "new", expires_at=number(2000)), message(1, "old", expires_at=number(10))]
    assert read(items, now=1000.0) == ["new"]
