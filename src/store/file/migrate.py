"""The file backend's one-time migration from the layout before the storage split.

Then, each conversation's metadata log (S.meta.json) held its settings and usage together
with the inbox's owed updates, and `.pending/S` markers indexed the unfinished turns. Now
settings and usage are a "conversation" record and the owed updates an "inbox" record. The
migration reads every metadata log once, writes the records and the new layout's mark in one
transaction, then removes the old files. Run again after a crash, it finds the mark and does
nothing, or writes only what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from src.store.file import jsonl_io
from src.store.file.records import SQLiteRecords
from src.store.legacy import LAYOUT, split
from src.store.records import Record

logger = logging.getLogger(__name__)


async def migrate(directory: Path, records: SQLiteRecords) -> int:
    """Move the old layout's metadata into records. Returns how many records it wrote."""
    if await records.state("layout") == str(LAYOUT):
        return 0
    found = await asyncio.to_thread(_read_logs, directory)
    written = await records.import_records(_records(found), ("layout", str(LAYOUT)))
    await asyncio.to_thread(_remove_old, directory, [path for path, _, _ in found])
    if found:
        logger.info(
            "store: moved the metadata of %d conversation(s) in %s into %s (%d records)",
            len(found),
            directory,
            records.path.name,
            written,
        )
    return written


def _records(found: list[tuple[Path, str, dict[str, Any]]]) -> list[Record]:
    now = time.time()
    return [record for _, cid, data in found for record in split(cid, data, now)]


def _read_logs(directory: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    """(path, conversation id, metadata) of every readable old metadata log."""
    found = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.endswith(".meta.json"):
            continue
        path = Path(entry.path)
        try:
            record = jsonl_io.read_record(path)
        except (OSError, ValueError) as exc:
            logger.warning("store: %s is unreadable (%s); its metadata is lost", path.name, exc)
            continue
        cid = record.get("conversation_id") if isinstance(record, dict) else None
        data = record.get("data") if isinstance(record, dict) else None
        if isinstance(cid, str) and isinstance(data, dict):
            found.append((path, cid, data))
        else:
            logger.warning("store: %s is not a metadata record; skipped", path.name)
    return found


def _remove_old(directory: Path, logs: list[Path]) -> None:
    for path in logs:
        path.unlink(missing_ok=True)
    shutil.rmtree(directory / ".pending", ignore_errors=True)
