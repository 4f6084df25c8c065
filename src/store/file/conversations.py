"""JSONL file store: one append-only file per conversation.

Layout under the configured directory, for a conversation whose file stem is S:
  S.jsonl           a header line {"conversation_id": ...}, then one message per line
  records.sqlite3   the records (file/records.py): settings, usage, the inbox, ...
Before the storage split, S.meta.json held a metadata log and .pending/S marked unfinished
turns; file/migrate.py moves them into the records once.

S is a sanitised prefix of the id plus a SHA-256 of the whole id, so no id can name a path
outside the directory and two ids never share a file.

Each operation runs whole in one worker thread (see jsonl_io.py): the event loop never
blocks, and a turn costs a handful of thread hops, not one per syscall.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from src.conversation.message import Message
from src.errors import ConversationError
from src.store.conversations import ConversationInfo, ConversationStore
from src.store.file import jsonl_io
from src.store.file.tail_cache import TailCache
from src.store.locks import KeyedLocks

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
T = TypeVar("T")
_PATH_CACHE_SIZE = 256  # paths of the conversations active now


def file_stem(conversation_id: str) -> str:
    """A file name stem for an id: safe characters only, unique per id."""
    raw = conversation_id.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()[:32]
    slug = _UNSAFE.sub("_", conversation_id)[:40]
    return f"{slug}-{digest}" if slug else digest


class FileStore(ConversationStore):
    name = "file"

    def __init__(self, directory: str | Path, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self._locks = KeyedLocks()
        self._checked_tail: set[str] = set()
        self._tails = TailCache()
        self._path_cache: dict[str, tuple[str, Path]] = {}

    def _paths(self, conversation_id: str) -> tuple[str, Path]:
        """File stem and history of a conversation (kept for the active ones: a Path and its
        text are built once, not on every write)."""
        paths = self._path_cache.get(conversation_id)
        if paths is None:
            stem = file_stem(conversation_id)
            paths = (stem, self.directory / f"{stem}.jsonl")
            if len(self._path_cache) >= _PATH_CACHE_SIZE:
                self._path_cache.pop(next(iter(self._path_cache)))
            self._path_cache[conversation_id] = paths
        return paths

    async def _run(self, what: str, function: Callable[..., T], *args: Any) -> T:
        """Run one blocking operation in a worker thread; OSError becomes ConversationError."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, function, *args)
        except OSError as exc:
            raise ConversationError(f"cannot {what}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(f"create {self.directory}", _makedirs, self.directory)

    async def ping(self) -> None:
        if not await asyncio.to_thread(_writable_dir, self.directory):
            raise ConversationError(f"store directory {self.directory} is missing or read-only")

    # -- messages ----------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        if not messages:
            return
        stem, path = self._paths(conversation_id)
        lines = [jsonl_io.line(m.to_dict()) for m in messages]
        header = jsonl_io.line({"conversation_id": conversation_id, "v": 1})
        payload = b"".join(lines)
        async with self._locks.hold(stem):
            check_tail = stem not in self._checked_tail
            self._checked_tail.discard(stem)  # until this write is known to be whole
            try:
                await self._run(
                    f"write {path.name}",
                    jsonl_io.append,
                    path,
                    payload,
                    header,
                    check_tail,
                    self.fsync,
                )
            except BaseException:
                self._tails.drop(conversation_id)  # the file may hold part of these lines
                raise
            self._checked_tail.add(stem)
            self._tails.extend(conversation_id, messages, [len(line) for line in lines])

    async def load_recent(self, conversation_id: str, limit: int | None) -> list[Message]:
        stem, path = self._paths(conversation_id)
        if limit is None:
            return await self._run(f"read {path.name}", jsonl_io.read_messages, path)
        if limit <= 0:
            return []
        cached = self._tails.get(conversation_id, limit)
        if cached is not None:
            return cached
        async with self._locks.hold(stem):  # so no append lands between the read and the fill
            messages, sizes = await self._run(
                f"read {path.name}", jsonl_io.read_recent, path, limit
            )
            self._tails.fill(conversation_id, limit, messages, sizes)
        return list(messages)

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        """Replace the whole history atomically: a bulk import (benchmarks seed long
        histories with it). Not part of the interface."""
        stem, path = self._paths(conversation_id)
        header = jsonl_io.line({"conversation_id": conversation_id, "v": 1})
        payload = header + b"".join(jsonl_io.line(m.to_dict()) for m in messages)
        async with self._locks.hold(stem):
            self._tails.drop(conversation_id)
            await self._run(f"save {path.name}", jsonl_io.replace, path, payload, self.fsync)
            self._checked_tail.add(stem)

    async def delete_conversation(self, conversation_id: str) -> None:
        stem, path = self._paths(conversation_id)
        legacy = (self.directory / f"{stem}.meta.json", self.directory / ".pending" / stem)
        async with self._locks.hold(stem):
            self._tails.drop(conversation_id)
            await self._run(f"delete {path.name}", jsonl_io.remove, path, *legacy)
            self._checked_tail.discard(stem)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        found = await self._run(f"list {self.directory}", jsonl_io.scan_sorted, self.directory)
        result = []
        for mtime, path in found[offset : offset + limit]:
            conversation_id = await asyncio.to_thread(jsonl_io.read_header_id, path)
            if conversation_id is not None:
                result.append(ConversationInfo(conversation_id, mtime))
        return result


def _makedirs(path: Path) -> None:
    os.makedirs(path, exist_ok=True)


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)
