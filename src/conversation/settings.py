"""A conversation's own small record: its pinned agent, the learnt token ratio and usage totals.

Kept in the records facility (kind "conversation", keyed by conversation id), not in the
history, so reading it costs one small read and `/reset` forgets it with the history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from src.store.records import Record, RecordStore

KIND = "conversation"


async def load(records: RecordStore, conversation_id: str) -> dict[str, Any]:
    """The record's data ({} if none)."""
    record = await records.get(KIND, conversation_id)
    return dict(record.data) if record is not None else {}


async def change(
    records: RecordStore, conversation_id: str, mutate: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply `mutate` (a pure function of the data; it may run again on a newer record, and
    off the event loop) and store the result. Returns the data as stored."""

    def step(record: Record) -> Record:
        data = dict(record.data)
        mutate(data)
        return record.changed(data=data)

    stored = await records.update(KIND, conversation_id, step)
    return dict(stored.data) if stored is not None else {}


async def forget(records: RecordStore, conversation_id: str) -> None:
    await records.delete(KIND, conversation_id)
