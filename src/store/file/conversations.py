"""JSONL file store: one append-only file per conversation.

Layout under the configured directory, for a conversation whose file stem is S:
  S.jsonl        a header line {"conversation_id": ...}, then one message per line
  S.meta.json    the metadata log: one record per line, the last whole one in force;
                 rewritten as that record alone when it reaches 64 KiB
  .pending/S     present while the conversation has an unfinished turn (holds the id)

S is a sanitised prefix of the id plus a SHA-256 of the whole id, so no id can name a path
outside the directory and two ids never share a file.

Each operation runs whole in one worker thread (see jsonl_io.py): the event loop never
blocks, and a turn costs a handful of thread hops, not one per syscall.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from src.conversation.message import Message
from src.errors import ConversationError
from src.store.conversations import ConversationInfo, ConversationStore
from src.store.file import jsonl_io
from src.store.file.tail_cache import TailCache

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
T = TypeVar("T")
_META_CACHE_SIZE = 256  # records of the conversations active now
_META_COMPACT_AT = 64 * 1024  # bytes of metadata log before it is rewritten


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
        self._pending_dir = self.directory / ".pending"
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._checked_tail: set[str] = set()
        # Metadata as last written by this process (one bot owns a store directory), kept
        # encoded: a read decodes a fresh copy instead of reading the file (a thread hop).
        self._meta_cache: OrderedDict[str, bytes] = OrderedDict()
        self._tails = TailCache()
        self._path_cache: dict[str, tuple[str, Path, Path, Path]] = {}

    def _paths(self, conversation_id: str) -> tuple[str, Path, Path, Path]:
        """File stem, history, metadata log and pending marker of a conversation (kept for
        the active ones: a Path and its text are built once, not on every write)."""
        paths = self._path_cache.get(conversation_id)
        if paths is None:
            stem = file_stem(conversation_id)
            paths = (
                stem,
                self.directory / f"{stem}.jsonl",
                self.directory / f"{stem}.meta.json",
                self._pending_dir / stem,
            )
            if len(self._path_cache) >= _META_CACHE_SIZE:
                self._path_cache.pop(next(iter(self._path_cache)))
            self._path_cache[conversation_id] = paths
        return paths

    def _lock(self, stem: str) -> asyncio.Lock:
        lock = self._locks.get(stem)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[stem] = lock
        return lock

    async def _run(self, what: str, function: Callable[..., T], *args: Any) -> T:
        """Run one blocking operation in a worker thread; OSError becomes ConversationError."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, function, *args)
        except OSError as exc:
            raise ConversationError(f"cannot {what}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(f"create {self.directory}", _makedirs, self._pending_dir)

    async def ping(self) -> None:
        if not await asyncio.to_thread(_writable_dir, self.directory):
            raise ConversationError(f"store directory {self.directory} is missing or read-only")

    # -- messages ----------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        if messages:
            await self._write(conversation_id, messages, None)

    async def append_and_update(
        self,
        conversation_id: str,
        messages: list[Message],
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        async with self._metadata_lock(conversation_id):
            data = await self.load_metadata(conversation_id)
            change(data)
            await self._write(conversation_id, messages, data)
        return data

    async def _write(
        self,
        conversation_id: str,
        messages: list[Message],
        data: dict[str, Any] | None,
        pending: bool | None = None,
    ) -> None:
        """Append `messages` to the history, then write the metadata record `data` (with the
        pending mark, as `save_metadata` says), in one trip to a worker thread."""
        stem, path, meta, marker = self._paths(conversation_id)
        lines = [jsonl_io.line(m.to_dict()) for m in messages]
        header = jsonl_io.line({"conversation_id": conversation_id, "v": 1}) if lines else b""
        record = None
        if data is not None:
            body = {"conversation_id": conversation_id, "data": data}
            record = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
        mark = (marker, conversation_id.encode("utf-8", "surrogatepass"), pending)

        def write(check_tail: bool) -> None:
            if lines:
                jsonl_io.append(path, b"".join(lines), header, check_tail, self.fsync)
            if record is not None:
                jsonl_io.save_record(meta, record, self.fsync, _META_COMPACT_AT, mark)

        async with self._lock(stem):
            check_tail = stem not in self._checked_tail
            if lines:
                self._checked_tail.discard(stem)  # until this write is known to be whole
            try:
                await self._run(f"write {path.name if lines else meta.name}", write, check_tail)
            except BaseException:
                if lines:
                    self._tails.drop(conversation_id)  # the file may hold part of these lines
                raise
            if lines:
                self._checked_tail.add(stem)
                self._tails.extend(conversation_id, messages, [len(line) for line in lines])
            if record is not None:
                self._meta_cache[conversation_id] = record
                self._meta_cache.move_to_end(conversation_id)
                if len(self._meta_cache) > _META_CACHE_SIZE:
                    self._meta_cache.popitem(last=False)

    async def load_conversation(self, conversation_id: str) -> list[Message]:
        _, path, _, _ = self._paths(conversation_id)
        return await self._run(f"read {path.name}", jsonl_io.read_messages, path)

    async def load_recent(self, conversation_id: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        cached = self._tails.get(conversation_id, limit)
        if cached is not None:
            return cached
        stem, path, _, _ = self._paths(conversation_id)
        async with self._lock(stem):  # so no append lands between the read and the fill
            messages, sizes = await self._run(
                f"read {path.name}", jsonl_io.read_recent, path, limit
            )
            self._tails.fill(conversation_id, limit, messages, sizes)
        return list(messages)

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        stem, path, _, _ = self._paths(conversation_id)
        header = jsonl_io.line({"conversation_id": conversation_id, "v": 1})
        payload = header + b"".join(jsonl_io.line(m.to_dict()) for m in messages)
        async with self._lock(stem):
            self._tails.drop(conversation_id)
            await self._run(f"save {path.name}", jsonl_io.replace, path, payload, self.fsync)
            self._checked_tail.add(stem)

    async def delete_conversation(self, conversation_id: str) -> None:
        stem, path, meta, marker = self._paths(conversation_id)
        async with self._lock(stem):
            self._meta_cache.pop(conversation_id, None)
            self._tails.drop(conversation_id)
            await self._run(f"delete {path.name}", jsonl_io.remove, path, meta, marker)
            self._checked_tail.discard(stem)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        found = await self._run(f"list {self.directory}", jsonl_io.scan_sorted, self.directory)
        result = []
        for mtime, path in found[offset : offset + limit]:
            conversation_id = await asyncio.to_thread(jsonl_io.read_header_id, path)
            if conversation_id is not None:
                result.append(ConversationInfo(conversation_id, mtime))
        return result

    # -- metadata and the pending index -------------------------------------------------

    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        cached = self._meta_cache.get(conversation_id)
        if cached is not None:
            self._meta_cache.move_to_end(conversation_id)
            return dict(json.loads(cached)["data"])
        _, _, meta, _ = self._paths(conversation_id)
        try:
            data = await self._run(f"read {meta.name}", jsonl_io.read_record, meta)
        except ValueError as exc:
            raise ConversationError(f"cannot read {meta.name}: {exc}") from exc
        if data is None:
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("data", {}), dict):
            raise ConversationError(f"{meta.name} is not a metadata record")
        return dict(data.get("data") or {})

    async def save_metadata(
        self, conversation_id: str, data: dict[str, Any], pending: bool | None = None
    ) -> None:
        await self._write(conversation_id, [], data, pending)

    async def set_pending(self, conversation_id: str, pending: bool) -> None:
        marker = self._paths(conversation_id)[3]
        if pending:
            data = conversation_id.encode("utf-8", "surrogatepass")
            await self._run("update the pending index", jsonl_io.write_marker, marker, data)
        else:
            await self._run("update the pending index", jsonl_io.remove, marker)

    async def list_pending(self) -> list[str]:
        return await self._run(
            "read the pending index", jsonl_io.read_markers, self._pending_dir, self.directory
        )


def _makedirs(path: Path) -> None:
    os.makedirs(path, exist_ok=True)


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)
