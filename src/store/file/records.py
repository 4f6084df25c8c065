"""The file backend's records: SQLite (standard library) in WAL mode, beside the JSONL histories.

One connection, used only from the store's own worker thread, so the event loop never blocks
and statements never interleave. A version check in the UPDATE's WHERE clause (or the primary
key, for a first write) refuses a write over a newer record. `update` runs its whole
read-change-write in one transaction in that thread: one trip per change.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ConversationError, RecordConflictError
from src.store.records import (
    FAR_FUTURE,
    Change,
    Record,
    RecordStore,
    adding,
    check_amounts,
    check_find,
    check_name,
    decide,
)

T = TypeVar("T")
FILE_NAME = "records.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    user_id INTEGER,
    due_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_user ON records (kind, user_id, updated_at)
    WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_by_due ON records (kind, due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS store_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "kind, key, data, version, user_id, due_at, updated_at"


class SQLiteRecords(RecordStore):
    name = "file"

    def __init__(
        self, directory: str | Path, fsync: bool = True, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.path = Path(directory) / FILE_NAME
        self.fsync = fsync
        self.clock = clock
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise ConversationError("the records store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, function, *args)
        except sqlite3.Error as exc:
            raise ConversationError(f"records database {self.path.name}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        try:
            await self._run(self._connect)
        except OSError as exc:
            raise ConversationError(f"cannot open {self.path}: {exc}") from exc

    def _connect(self) -> None:
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._thread is None:
            return
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=True)
        self._thread = None

    async def ping(self) -> None:
        await self._run(lambda: self._conn().execute("SELECT 1").fetchone())

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.OperationalError("not connected")
        return self._db

    # -- the interface -----------------------------------------------------------------

    async def get(self, kind: str, key: str) -> Record | None:
        check_name(kind, key)
        return await self._run(self._get, kind, key)

    async def put(self, record: Record) -> Record:
        check_name(record.kind, record.key)
        return await self._run(self._transaction, lambda: self._put(record))

    async def delete(self, kind: str, key: str, version: int | None = None) -> None:
        check_name(kind, key)
        await self._run(self._transaction, lambda: self._delete(kind, key, version))

    async def find(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        due_before: float | None = None,
        limit: int = 100,
    ) -> list[Record]:
        check_find(user_id, due_before, limit)
        if user_id is not None:
            sql = (
                f"SELECT {_COLUMNS} FROM records WHERE kind = ? AND user_id = ? "
                "ORDER BY updated_at DESC, key LIMIT ?"
            )
            args: tuple[Any, ...] = (kind, user_id, limit)
        else:
            assert due_before is not None
            bound = min(due_before, FAR_FUTURE)
            sql = (
                f"SELECT {_COLUMNS} FROM records WHERE kind = ? AND due_at IS NOT NULL "
                "AND due_at <= ? ORDER BY due_at, key LIMIT ?"
            )
            args = (kind, bound, limit)
        rows = await self._run(lambda: self._conn().execute(sql, args).fetchall())
        return [_record(row) for row in rows]

    async def update(self, kind: str, key: str, change: Change) -> Record | None:
        """The read-change-write in one transaction in the worker thread (no conflicts can
        come from this process; another process waits on SQLite's lock)."""
        check_name(kind, key)

        def step() -> Record | None:
            current = self._get(kind, key) or Record(kind, key)
            action, record = decide(current, change)
            if action == "put":
                assert record is not None
                return self._put(record)
            if action == "delete":
                self._delete(kind, key, None)
            return record

        async with self._locks.hold(f"{kind}\0{key}"):
            return await self._run(self._transaction, step)

    async def add_many(
        self, kind: str, keys: Mapping[str, int | None], amounts: Mapping[str, int]
    ) -> dict[str, Record]:
        """All the adds in one transaction, in one trip to the worker thread, committed without
        an fsync: like every write here it survives a crash of the process (kill -9); unlike
        the others, a power cut may lose the last few. That halves the cost of counting a
        model call (bench/limits.py), and a spend counter can afford it."""
        for key in keys:
            check_name(kind, key)
        checked = check_amounts(amounts)

        def step() -> dict[str, Record]:
            stored = {}
            for key, owner in keys.items():
                changed = adding(checked, owner)(self._get(kind, key) or Record(kind, key))
                assert changed is not None  # adding never deletes
                stored[key] = self._put(changed)
            return stored

        return await self._run(self._transaction, step, False)

    # -- in the worker thread ----------------------------------------------------------

    def _transaction(self, step: Callable[[], T], sync: bool = True) -> T:
        """`step` in one transaction; `sync=False` commits it without an fsync (WAL mode's
        synchronous=NORMAL: durable across a process crash, maybe not a power cut)."""
        db = self._conn()
        relaxed = self.fsync and not sync
        if relaxed:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = step()
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if relaxed:
                db.execute("PRAGMA synchronous=FULL")
        return result

    def _get(self, kind: str, key: str) -> Record | None:
        sql = f"SELECT {_COLUMNS} FROM records WHERE kind = ? AND key = ?"
        row = self._conn().execute(sql, (kind, key)).fetchone()
        return None if row is None else _record(row)

    def _put(self, record: Record) -> Record:
        stored = record.changed(version=record.version + 1, updated_at=self.clock.time())
        values = (
            _encode(stored.data),
            stored.version,
            stored.user_id,
            stored.due_at,
            stored.updated_at,
            stored.kind,
            stored.key,
        )
        db = self._conn()
        if record.version == 0:
            try:
                db.execute(
                    "INSERT INTO records (data, version, user_id, due_at, updated_at, kind, key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                raise RecordConflictError(f"{record.kind} record exists already") from None
            return stored
        cursor = db.execute(
            "UPDATE records SET data = ?, version = ?, user_id = ?, due_at = ?, updated_at = ? "
            "WHERE kind = ? AND key = ? AND version = ?",
            (*values, record.version),
        )
        if cursor.rowcount != 1:
            raise RecordConflictError(f"{record.kind} record changed meanwhile")
        return stored

    def _delete(self, kind: str, key: str, version: int | None) -> None:
        if version is None:
            self._conn().execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            return
        cursor = self._conn().execute(
            "DELETE FROM records WHERE kind = ? AND key = ? AND version = ?", (kind, key, version)
        )
        if cursor.rowcount != 1 and self._get(kind, key) is not None:
            raise RecordConflictError(f"{kind} record changed meanwhile")

    # -- the store's own state (migrations done) ---------------------------------------

    async def state(self, name: str) -> str | None:
        sql = "SELECT value FROM store_state WHERE name = ?"
        row = await self._run(lambda: self._conn().execute(sql, (name,)).fetchone())
        return None if row is None else str(row[0])

    async def import_records(self, records: list[Record], state: tuple[str, str]) -> int:
        """Write records that do not exist yet and set a state value, in one transaction
        (a migration: run again after a crash, it writes nothing twice). Returns how many."""

        def step() -> int:
            written = 0
            for record in records:
                if self._get(record.kind, record.key) is None:
                    self._put(record.changed(version=0))
                    written += 1
            self._conn().execute(
                "INSERT OR REPLACE INTO store_state (name, value) VALUES (?, ?)", state
            )
            return written

        return await self._run(self._transaction, step)


def _encode(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: stored escaped, read back the same
        return json.dumps(data, separators=(",", ":"))
    return text


def _record(row: tuple[Any, ...]) -> Record:
    kind, key, data, version, user_id, due_at, updated_at = row
    return Record(kind, key, json.loads(data), version, user_id, due_at, updated_at)
