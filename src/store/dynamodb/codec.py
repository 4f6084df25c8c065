"""Item layout of the DynamoDB store, and the pure functions that encode and decode items.

One table, partition key `pk` (S), sort key `sk` (N):

  pk = "c#<conversation id>"
    sk >= 1   one message per item, in order; `d` holds its JSON (S), or over COMPRESS_OVER
              bytes the zlib-compressed JSON (B, with `z`) when that is smaller; compressed
              data over PART_BYTES spans consecutive items carrying `part`/`parts`
    sk = 0    the summary: `last_seq` (the sequence counter), `messages`, `updated_at`, and
              `list_key` so the sparse GSI `by_updated` lists conversations newest first
  pk = "r#<kind>#<key>", sk = 0: a record (records.py): `d`/`z` as for messages, `ver`,
              `updated_at`, and for the indexes `uk` = "<kind>#<user id>" (GSI
              records_by_user, newest first) and `dk` = kind with `due` (GSI records_by_due)
              A counter record (RecordStore.add) has no `d`: each counter is a top-level
              number `c_<name>`, added to in place (UpdateItem ADD), beside `ver`,
              `updated_at`, `w` and the user index's `uk`/`uid`
Before the records facility: sk = -1 held a conversation's metadata record and pk = "pending"
indexed unfinished turns; migrate.py moves them into records once.

`save_conversation` writes its messages with a `gen` token that makes them invisible until
the commit marker (an item with `floor` and the same `gen`) is written above them; readers
going newest-first ignore everything below the newest marker's `floor`. Nothing here does
I/O: the store runs these functions in its worker threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from typing import Any

from src.conversation.message import Message
from src.errors import ConversationError

logger = logging.getLogger(__name__)

Item = dict[str, Any]  # DynamoDB's wire shape: {"name": {"S": "..."}, ...}

KEY_PREFIX = "c#"
PENDING_PK = "pending"
SUMMARY_SK = 0
METADATA_SK = -1
LIST_KEY = "all"
LISTING_INDEX = "by_updated"
USER_INDEX = "records_by_user"
DUE_INDEX = "records_by_due"
RECORD_PREFIX = "r#"
RECORD_SK = 0
COUNTER_PREFIX = "c_"  # a counter record's attributes (no other item attribute starts so)
TTL_ATTRIBUTE = "expires_at"
COMPRESS_OVER = 1024  # bytes of JSON; smaller messages stay readable text
PART_BYTES = 350_000  # data per item: the limit is 400 KB with attribute names and keys
_MAX_ID_BYTES = 1024  # partition keys may have 2048 bytes


def conversation_key(conversation_id: str) -> str:
    """The partition key of a conversation. Raises ConversationError for unusable ids."""
    try:
        size = len(conversation_id.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConversationError("the conversation id is not valid UTF-8 text") from None
    if not 0 < size <= _MAX_ID_BYTES:
        raise ConversationError(f"a conversation id must have 1 to {_MAX_ID_BYTES} bytes")
    return KEY_PREFIX + conversation_id


def conversation_id_of(pk: str) -> str:
    return pk[len(KEY_PREFIX) :]


def pending_sort_key(conversation_id: str) -> int:
    """A number that identifies the id in the pending partition (120 bits fit N's 38 digits)."""
    return int(hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:30], 16)


def number(value: int | float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def to_json(data: Any) -> str:
    """Compact JSON; text DynamoDB cannot hold (lone surrogates) is escaped, so it reads back."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text


def pack(data: Any) -> list[Item]:
    """The data attributes of the item(s) that hold `data`: one item unless it is too big."""
    text = to_json(data)
    raw = text.encode("utf-8")
    if len(raw) <= COMPRESS_OVER:
        return [{"d": {"S": text}}]
    packed = zlib.compress(raw, 6)
    if len(packed) >= len(raw) and len(raw) <= PART_BYTES:
        return [{"d": {"S": text}}]  # compression does not pay
    flag = {"z": {"BOOL": True}}
    if len(packed) <= PART_BYTES:
        return [{"d": {"B": packed}, **flag}]
    chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
    return [
        {"d": {"B": chunk}, "part": number(i), "parts": number(len(chunks)), **flag}
        for i, chunk in enumerate(chunks)
    ]


def unpack(items: list[Item]) -> Any:
    """The data held by `items` (in part order). Raises ValueError if it is unreadable."""
    first = items[0]["d"]
    if "S" in first:
        return json.loads(first["S"])
    try:
        body = zlib.decompress(b"".join(bytes(item["d"]["B"]) for item in items))
    except zlib.error as exc:
        raise ValueError(f"bad compressed data: {exc}") from None
    return json.loads(body.decode("utf-8"))


def pack_messages(messages: list[Message]) -> list[list[Item]]:
    return [pack(m.to_dict()) for m in messages]


def pack_record(data: dict[str, Any]) -> Item:
    """A record's data attributes (always one item)."""
    items = pack(data)
    if len(items) > 1:
        raise ConversationError("the record is too large for one DynamoDB item")
    return items[0]


def unpack_record(item: Item | None, now: float) -> dict[str, Any]:
    if not item or "d" not in item or expired(item, now):
        return {}
    try:
        data = unpack([item])
    except ValueError as exc:
        raise ConversationError(f"the record is unreadable ({exc})") from None
    return dict(data) if isinstance(data, dict) else {}


def unpack_counters(item: Item) -> dict[str, int]:
    """A counter record's data: {counter name: total}."""
    return {
        name[len(COUNTER_PREFIX) :]: int(value["N"])
        for name, value in item.items()
        if name.startswith(COUNTER_PREFIX)
    }


def expiry(ttl_days: int) -> dict[str, str]:
    """The TTL attribute's value for an item written now."""
    return number(int(time.time()) + ttl_days * 86400)


def expired(item: Item, now: float) -> bool:
    """DynamoDB deletes expired items within a few days; until then they are ignored here."""
    expires = item.get(TTL_ATTRIBUTE)
    return expires is not None and int(expires["N"]) <= now


def sequence(item: Item) -> int:
    return int(item["sk"]["N"])


class HistoryReader:
    """Turns message items read newest first into messages, newest first.

    Feed items in descending `sk` order; `messages` grows as messages complete and `done`
    turns true at the floor of the newest committed `save_conversation`.
    """

    def __init__(self, now: float, where: str) -> None:
        self.now = now
        self.where = where
        self.messages: list[Message] = []
        self.done = False
        self._floor: int | None = None
        self._generation: str | None = None
        self._parts: list[Item] = []

    def feed(self, item: Item) -> None:
        if self.done:
            return
        seq = sequence(item)
        if self._floor is not None and seq < self._floor:
            self.finish()
            self.done = True
            return
        if "floor" in item:  # a commit marker: the newest one decides
            if self._floor is None:
                self._floor = int(item["floor"]["N"])
                self._generation = item["gen"]["S"]
            return
        generation = item.get("gen", {}).get("S")
        if (generation is not None and generation != self._generation) or expired(item, self.now):
            return  # an uncommitted save, or expired
        if "parts" not in item:
            self._drop_torn()
            self._decode([item])
            return
        part, parts = int(item["part"]["N"]), int(item["parts"]["N"])
        if self._parts:
            last = self._parts[-1]
            if int(last["part"]["N"]) != part + 1 or sequence(last) != seq + 1:
                self._drop_torn()
        if not self._parts and part != parts - 1:
            logger.warning("store: %s: a torn large message at %d skipped", self.where, seq)
            return
        self._parts.append(item)
        if part == 0:
            parts_in_order, self._parts = self._parts[::-1], []
            self._decode(parts_in_order)

    @property
    def missing_parts(self) -> int:
        """Items still to read to complete the large message in progress."""
        return int(self._parts[-1]["part"]["N"]) if self._parts else 0

    def finish(self) -> None:
        """The items ran out: a large message still missing its first part is torn."""
        self._drop_torn()

    def _drop_torn(self) -> None:
        if self._parts:
            seq = sequence(self._parts[0])
            logger.warning("store: %s: a torn large message at %d skipped", self.where, seq)
            self._parts = []

    def _decode(self, items: list[Item]) -> None:
        try:
            self.messages.append(Message.from_dict(unpack(items)))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            seq = sequence(items[0])
            logger.warning(
                "store: %s: unreadable message at %d skipped (%s)",
                self.where,
                seq,
                type(exc).__name__,
            )
