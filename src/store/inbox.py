"""The inbox: input a channel has accepted but not yet answered, kept as records.

A channel confirms an update to its source only after `accept` returns, and calls `done`
after the answer is delivered. After a crash, `pending` lists what is still owed. Each
conversation has one "inbox" record: the items owed, and the last update id accepted (a
re-delivered update is refused). While items are owed, the record's `due_at` is the time the
oldest was accepted, so the records' due index is the small index of pending turns: finding
them never scans conversations.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from src.clock import SYSTEM_CLOCK, Clock
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

KIND = "inbox"
_PENDING = "pending"
_LAST = "last_update_id"
_MAX_OWED = 100_000  # conversations listed by one `pending` call


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    kind: str  # "text" | "reset" | ... (the channel decides)
    text: str = ""
    user_id: int | None = None
    chat_id: int | None = None
    thread_id: int | None = None
    message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which walks every field recursively (4x slower); only
        # `extra` holds anything mutable.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["extra"] = copy.deepcopy(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboxItem:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class Inbox:
    def __init__(self, records: RecordStore, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self.clock = clock

    async def accept(self, conversation_id: str, item: InboxItem) -> bool:
        """Store the item durably. False if this update id was accepted before."""

        accepted = False

        def add(record: Record) -> Record:
            nonlocal accepted
            accepted = item.update_id > int(record.data.get(_LAST, -1))
            if not accepted:
                return record
            owed = [*record.data.get(_PENDING, []), item.to_dict()]
            due = record.due_at if record.due_at is not None else self.clock.time()
            return record.changed(data={_PENDING: owed, _LAST: item.update_id}, due_at=due)

        await self.records.update(KIND, conversation_id, add)
        if not accepted:
            logger.info(
                "conversation %s: update %s was already accepted; ignored",
                conversation_id,
                item.update_id,
            )
        return accepted

    async def owed(self, conversation_id: str, update_id: int) -> bool:
        """Whether this update was accepted and is not answered yet."""
        record = await self.records.get(KIND, conversation_id)
        owed = record.data.get(_PENDING, []) if record is not None else []
        return any(i.get("update_id") == update_id for i in owed)

    async def done(self, conversation_id: str, update_id: int, *more: int) -> None:
        """Forget an answered item (and `more`, answered with it, at once); the conversation
        leaves the index when nothing is left."""
        answered = {update_id, *more}

        def remove(record: Record) -> Record:
            owed = record.data.get(_PENDING, [])
            left = [i for i in owed if i.get("update_id") not in answered]
            if not record.version or len(left) == len(owed):
                return record
            return record.changed(
                data={**record.data, _PENDING: left}, due_at=record.due_at if left else None
            )

        await self.records.update(KIND, conversation_id, remove)

    async def pending(self) -> list[tuple[str, list[InboxItem]]]:
        """Every conversation with unanswered items, each with its items in arrival order;
        the conversation owed the oldest update comes first."""
        result = []
        for record in await self.records.find(KIND, due_before=math.inf, limit=_MAX_OWED):
            # The index may lag the record on some backends: the record itself decides.
            current = await self.records.get(KIND, record.key)
            owed = current.data.get(_PENDING, []) if current is not None else []
            items = [InboxItem.from_dict(i) for i in owed]
            if items:
                result.append((record.key, sorted(items, key=lambda i: i.update_id)))
        result.sort(key=lambda entry: entry[1][0].update_id)
        return result
