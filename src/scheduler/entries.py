"""Scheduled entries in the records facility: kind "reminder", keyed by a short random id,
indexed by user (their list, their count) and by due time (what runs next). A disabled entry
keeps its record but leaves the due index.

Delivery is at least once: an entry is claimed (its due time moved a lease ahead, the claim
noted) before it runs, and completed after its message is sent (a one-off is deleted, a
repeat moves to its next slot). A crash between the two leaves the claim: the next start
runs the entry again (so at most once more), and a lease that ran out lets any process take it.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from src.errors import ToolArgumentError
from src.scheduler.timing import next_slot, zone
from src.store.records import FAR_FUTURE, Record, RecordStore

KIND = "reminder"
PROFILE = "profile"  # a user's own settings (their time zone)
LEASE_S = 600.0  # how long a claim holds before another run may take the entry


@dataclass(frozen=True)
class Entry:
    id: str
    user_id: int
    conversation_id: str
    text: str
    zone: str
    due_at: float | None  # None: disabled
    created_at: float
    task: bool = False
    cron: str | None = None
    claimed_at: float | None = None
    was_due: float | None = None  # while claimed: when it was due
    disabled: str | None = None  # why: "blocked" (the bot was blocked), ...
    meta: dict[str, Any] = field(default_factory=dict)  # chat type, thread, ...
    version: int = 0

    def to_record(self) -> Record:
        data = {k: v for k, v in asdict(self).items() if k not in ("id", "version", "due_at")}
        return Record(KIND, self.id, data, self.version, self.user_id, self.due_at)

    @classmethod
    def of(cls, record: Record) -> Entry:
        data = dict(record.data)
        data.pop("user_id", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(
            id=record.key,
            user_id=int(record.user_id or 0),
            due_at=record.due_at,
            version=record.version,
            **known,
        )


class Entries:
    def __init__(self, records: RecordStore, max_per_user: int = 100) -> None:
        self.records = records
        self.max_per_user = max_per_user

    async def create(self, entry: Entry) -> Entry:
        """Store a new entry under a fresh id (ToolArgumentError past max_per_user)."""
        if len(await self.of_user(entry.user_id)) >= self.max_per_user:
            raise ToolArgumentError(
                f"you already have {self.max_per_user} scheduled entries, the most allowed; "
                "cancel some first"
            )
        for _ in range(5):
            candidate = replace(entry, id=secrets.token_hex(4))
            if await self.records.get(KIND, candidate.id) is None:
                stored = await self.records.put(candidate.to_record())
                return Entry.of(stored)
        raise ToolArgumentError("could not pick an id for the entry; try again")

    async def of_user(self, user_id: int) -> list[Entry]:
        found = await self.records.find(KIND, user_id=user_id, limit=self.max_per_user + 1)
        return [Entry.of(record) for record in found]

    async def get(self, entry_id: str) -> Entry | None:
        if not entry_id or len(entry_id) > 32 or not entry_id.isalnum():
            return None
        record = await self.records.get(KIND, entry_id)
        return None if record is None else Entry.of(record)

    async def cancel(self, entry_id: str, user_id: int | None) -> Entry | None:
        """Delete the entry if it is this user's (None: anyone's); returns what was deleted."""
        entry = await self.get(entry_id)
        if entry is None or (user_id is not None and entry.user_id != user_id):
            return None
        await self.records.delete(KIND, entry.id)
        return entry

    async def due(self, before: float, limit: int) -> list[Entry]:
        """Entries due at or before `before`, soonest first."""
        return [Entry.of(r) for r in await self.records.find(KIND, due_before=before, limit=limit)]

    async def next_due(self) -> float | None:
        found = await self.records.find(KIND, due_before=FAR_FUTURE, limit=1)
        return found[0].due_at if found else None

    async def claim(self, entry: Entry, now: float, reclaim: bool) -> Entry | None:
        """Take the entry for one delivery: its due time moves a lease ahead and the claim is
        noted. None when it is not ours to run (not due, taken by another run meanwhile, gone).
        `reclaim` (at start-up) also takes entries a previous run claimed and never finished."""
        taken: list[Entry] = []

        def change(record: Record) -> Record:
            taken.clear()
            if not record.version or record.due_at is None:
                return record
            current = Entry.of(record)
            overdue = record.due_at <= now
            if not overdue and not (reclaim and current.claimed_at is not None):
                return record
            was_due = current.was_due if current.claimed_at is not None else record.due_at
            claimed = replace(current, claimed_at=now, due_at=now + LEASE_S, was_due=was_due)
            taken.append(claimed)
            return claimed.to_record()

        stored = await self.records.update(KIND, entry.id, change)
        if not taken or stored is None:
            return None
        return Entry.of(stored)

    async def complete(self, entry: Entry, now: float) -> Entry | None:
        """After delivery: a one-off is deleted; a repeat moves to its first slot after now
        (entries missed while the bot was down are not sent one by one). Returns the repeat."""
        if entry.cron is None:
            await self.records.delete(KIND, entry.id)
            return None
        following = next_slot(entry.cron, zone(entry.zone), now)

        def change(record: Record) -> Record:
            if not record.version:
                return record  # cancelled meanwhile
            current = Entry.of(record)
            return replace(current, claimed_at=None, was_due=None, due_at=following).to_record()

        stored = await self.records.update(KIND, entry.id, change)
        return None if stored is None else Entry.of(stored)

    async def disable(self, entry: Entry, why: str) -> None:
        def change(record: Record) -> Record:
            if not record.version:
                return record
            current = Entry.of(record)
            return replace(current, due_at=None, claimed_at=None, disabled=why).to_record()

        await self.records.update(KIND, entry.id, change)


class UserZones:
    """Each user's time zone (`/timezone`), in a small profile record; config's default."""

    def __init__(self, records: RecordStore, default: str) -> None:
        self.records = records
        self.default = default

    async def get(self, user_id: int | None) -> str:
        if user_id is None:
            return self.default
        record = await self.records.get(PROFILE, str(user_id))
        name = record.data.get("timezone") if record is not None else None
        return name if isinstance(name, str) else self.default

    async def set(self, user_id: int, name: str) -> None:
        zone(name)  # ToolArgumentError for an unknown zone

        def change(record: Record) -> Record:
            return record.changed(data={**record.data, "timezone": name}, user_id=user_id)

        await self.records.update(PROFILE, str(user_id), change)
