"""The records facility: small versioned records beside the conversations.

A record is a JSON object of one `kind` ("conversation", "inbox", "access", and what later
features add: reminders, facts, budgets, approvals) under a `key` unique within its kind. It
may carry two indexed fields: `user_id` (find a user's records, newest first) and `due_at`
(find records due by a time, soonest first). Nothing else is indexed and nothing scans.

Every write names the version it replaces (0: the record must not exist yet); a write over a
newer version raises RecordConflictError, so two writers never lose an update. `update` is
the read-change-write built on that, retried on conflict: it is what callers use.

`add` keeps integer counters (spend budgets): a record written by it holds {counter name:
total} and is only ever changed by `add` (and deleted by `delete`). Two adds at once both
count; a backend may do it without reading first (DynamoDB: one UpdateItem).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ConversationError, RecordConflictError
from src.retry import Backoff, Retry, failure_of
from src.store.locks import KeyedLocks

KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
COUNTER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
MAX_KEY_BYTES = 1024
# Another writer got in between: read again and redo the change, after a short random wait.
CONFLICT_RETRY = Retry(
    on=failure_of(RecordConflictError), backoff=Backoff(0.01, 1.0, jitter=True), attempts=8
)
FAR_FUTURE = 1e100  # what `due_before=math.inf` asks for (DynamoDB numbers end at 1e126)


@dataclass(frozen=True)
class Record:
    kind: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: not stored (yet)
    user_id: int | None = None
    due_at: float | None = None  # seconds since the epoch
    updated_at: float = 0.0

    def changed(self, **fields: Any) -> Record:
        """A copy with some fields replaced, at the same version (what `update` writes)."""
        return replace(self, **fields)


# Given the current record (version 0 and empty data when there is none), return the record
# to write, the same object to write nothing, or None to delete it.
Change = Callable[[Record], Record | None]


def check_name(kind: str, key: str) -> None:
    """Raise ConversationError for a kind or key no backend can hold."""
    if not kind or not set(kind) <= KIND_CHARS:
        raise ConversationError(f"record kind {kind!r} must be lower-case letters and _")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConversationError("a record key must be valid UTF-8 text") from None
    if not 0 < size <= MAX_KEY_BYTES:
        raise ConversationError(f"a record key must have 1 to {MAX_KEY_BYTES} bytes")


def check_amounts(amounts: Mapping[str, int]) -> dict[str, int]:
    """A copy of `add`'s amounts. ValueError for a counter name that is not lower-case
    letters, digits and _; TypeError for an amount that is not an int."""
    checked: dict[str, int] = {}
    for name, amount in amounts.items():
        if not isinstance(name, str) or not name or not set(name) <= COUNTER_CHARS:
            raise ValueError(f"counter name {name!r} must be lower-case letters, digits and _")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"counter {name}: the amount must be an int, not {amount!r}")
        checked[name] = amount
    return checked


class RecordStore(ABC):
    """Async persistence for records. Every method raises ConversationError on failure."""

    name: str = "records"
    clock: Clock = SYSTEM_CLOCK

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the backend (create tables, migrate). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    async def ping(self) -> None:
        """Raise ConversationError unless the backend answers."""
        await self.get("store_state", "ping")

    @abstractmethod
    async def get(self, kind: str, key: str) -> Record | None:
        """The record as last written (strongly consistent), or None."""

    @abstractmethod
    async def put(self, record: Record) -> Record:
        """Write `record` if the stored version is still `record.version` (0: none stored);
        returns it as stored (version + 1, updated_at set). RecordConflictError otherwise."""

    @abstractmethod
    async def delete(self, kind: str, key: str, version: int | None = None) -> None:
        """Remove the record (if `version` is given, only at that version, else
        RecordConflictError). Deleting a missing record is not an error."""

    @abstractmethod
    async def find(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        due_before: float | None = None,
        limit: int = 100,
    ) -> list[Record]:
        """Records of `kind` by one index: a user's (newest first), or those due at or before
        `due_before` (soonest first). Exactly one of the two must be given."""

    async def update(self, kind: str, key: str, change: Change) -> Record | None:
        """Read, change and write back, again on the newer record if another writer got in
        between. Returns the record as it now stands (None if deleted or never written).
        Writers in this process take turns per record, so they do not collide."""
        check_name(kind, key)

        async def attempt() -> Record | None:
            current = await self.get(kind, key) or Record(kind, key)
            action, record = decide(current, change)
            if action == "put":
                assert record is not None
                return await self.put(record)
            if action == "delete":
                await self.delete(kind, key, current.version)
                return None
            return record

        async with self._locks.hold(f"{kind}\0{key}"):
            try:
                return await CONFLICT_RETRY.call(attempt, clock=self.clock)
            except RecordConflictError:
                raise ConversationError(f"the {kind} record kept changing; gave up") from None

    async def add(
        self, kind: str, key: str, amounts: Mapping[str, int], *, user_id: int | None = None
    ) -> Record:
        """Add integer `amounts` to the named counters of one record (a missing record or
        counter starts at 0) atomically: two writers adding at once both count. Returns the
        record as it now stands; its `data` is {counter name: total}. `user_id` puts the
        record in the user index (None leaves it as it is). A record written by `add` is only
        ever changed by `add` (and deleted by `delete`).

        Counter names are lower-case letters, digits and _ (else ValueError); amounts are
        ints of any sign (else TypeError). Here: an `update`, so one version per add."""
        check_name(kind, key)
        record = await self.update(kind, key, adding(check_amounts(amounts), user_id))
        assert record is not None  # `adding` never deletes and always writes
        return record

    async def add_many(
        self, kind: str, keys: Mapping[str, int | None], amounts: Mapping[str, int]
    ) -> dict[str, Record]:
        """`add` the same amounts to several records (key -> its user_id, or None) and return
        them by key. Each add is atomic; a backend with transactions (SQLite) does them all in
        one, the others at once (DynamoDB: one UpdateItem each, in parallel)."""
        records = await asyncio.gather(
            *(self.add(kind, key, amounts, user_id=owner) for key, owner in keys.items())
        )
        return dict(zip(keys, records, strict=True))

    @property
    def _locks(self) -> KeyedLocks:
        locks = self.__dict__.get("_record_locks")
        if locks is None:
            locks = self.__dict__["_record_locks"] = KeyedLocks()
        return locks


def adding(amounts: Mapping[str, int], user_id: int | None) -> Change:
    """The change that adds checked `amounts` to a record's counters (and sets its user)."""

    def change(current: Record) -> Record:
        totals = dict(current.data)
        for name, amount in amounts.items():
            totals[name] = totals.get(name, 0) + amount
        owner = current.user_id if user_id is None else user_id
        return current.changed(data=totals, user_id=owner)

    return change


def decide(current: Record, change: Change) -> tuple[str, Record | None]:
    """What `update` does with what `change` returns for `current`: ("put", the record to
    write at current's version), ("delete", None), or ("keep", what to return)."""
    wanted = change(current)
    if wanted is current:
        return "keep", current if current.version else None
    if wanted is None:
        return ("delete", None) if current.version else ("keep", None)
    return "put", wanted.changed(version=current.version)


def check_find(user_id: int | None, due_before: float | None, limit: int) -> None:
    if (user_id is None) == (due_before is None):
        raise ValueError("find needs exactly one of user_id and due_before")
    if limit <= 0:
        raise ValueError("find needs a positive limit")
