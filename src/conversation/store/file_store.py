"""JSONL file store: one append-only file per conversation.

Layout under the configured directory, for a conversation whose file stem is S:
  S.jsonl        a header line {"conversation_id": ...}, then one message per line
  S.meta.json    the metadata record (replaced atomically)
  .pending/S     present while the conversation has an unfinished turn (holds the id)

S is a sanitised prefix of the id plus a SHA-256 of the whole id, so no id can name a path
outside the directory and two ids never share a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import uuid
import weakref
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from src.conversation.message import Message
from src.conversation.store.base_store import ConversationInfo, ConversationStore
from src.errors import ConversationError

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_BLOCK = 64 * 1024


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

    # -- paths and locks ---------------------------------------------------------------

    def _paths(self, conversation_id: str) -> tuple[str, Path, Path]:
        stem = file_stem(conversation_id)
        return stem, self.directory / f"{stem}.jsonl", self.directory / f"{stem}.meta.json"

    def _lock(self, stem: str) -> asyncio.Lock:
        lock = self._locks.get(stem)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[stem] = lock
        return lock

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        try:
            await aiofiles.os.makedirs(self._pending_dir, exist_ok=True)
        except OSError as exc:
            raise ConversationError(f"cannot create {self.directory}: {exc.strerror}") from exc

    async def ping(self) -> None:
        if not await aiofiles.os.path.isdir(self.directory):
            raise ConversationError(f"store directory {self.directory} is missing")
        if not await aiofiles.os.access(self.directory, os.W_OK):
            raise ConversationError(f"store directory {self.directory} is not writable")

    # -- messages ----------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        if not messages:
            return
        stem, path, _ = self._paths(conversation_id)
        payload = "".join(_line(m.to_dict()) for m in messages)
        async with self._lock(stem):
            try:
                await self._append(stem, path, conversation_id, payload)
            except BaseException as exc:
                self._checked_tail.discard(stem)  # the failed write may have left half a line
                if isinstance(exc, OSError):
                    raise ConversationError(f"cannot append to {path.name}: {exc}") from exc
                raise

    async def _append(self, stem: str, path: Path, conversation_id: str, payload: str) -> None:
        async with aiofiles.open(path, "a+b") as f:
            size = await f.seek(0, os.SEEK_END)
            if size == 0:
                payload = _line({"conversation_id": conversation_id, "v": 1}) + payload
            elif stem not in self._checked_tail:
                await f.seek(size - 1)
                if await f.read(1) != b"\n":  # a crash tore the last line: close it off
                    logger.warning("store: %s ended inside a line; sealing it", path.name)
                    payload = "\n" + payload
            await f.write(payload.encode("utf-8", "surrogatepass"))
            await f.flush()
            if self.fsync:
                await asyncio.to_thread(os.fsync, f.fileno())
        self._checked_tail.add(stem)

    async def load_conversation(self, conversation_id: str) -> list[Message]:
        _, path, _ = self._paths(conversation_id)
        try:
            async with aiofiles.open(path, "rb") as f:
                data = await f.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConversationError(f"cannot read {path.name}: {exc}") from exc
        return _parse(data.split(b"\n"), path.name)

    async def load_recent(self, conversation_id: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        _, path, _ = self._paths(conversation_id)
        try:
            async with aiofiles.open(path, "rb") as f:
                end = await f.seek(0, os.SEEK_END)
                chunks: list[bytes] = []
                newlines, pos = 0, end
                while pos > 0 and newlines <= limit + 1:
                    step = min(_BLOCK, pos)
                    pos -= step
                    await f.seek(pos)
                    chunk = await f.read(step)
                    chunks.append(chunk)
                    newlines += chunk.count(b"\n")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConversationError(f"cannot read {path.name}: {exc}") from exc
        lines = b"".join(reversed(chunks)).split(b"\n")
        if pos > 0:
            lines = lines[1:]  # the first piece may be a partial line
        messages = _parse(lines, path.name)
        return messages[-limit:]

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        stem, path, _ = self._paths(conversation_id)
        header = _line({"conversation_id": conversation_id, "v": 1})
        payload = header + "".join(_line(m.to_dict()) for m in messages)
        async with self._lock(stem):
            try:
                await self._replace(path, payload.encode("utf-8", "surrogatepass"))
            except OSError as exc:
                raise ConversationError(f"cannot save {path.name}: {exc}") from exc
            self._checked_tail.add(stem)

    async def delete_conversation(self, conversation_id: str) -> None:
        stem, path, meta = self._paths(conversation_id)
        async with self._lock(stem):
            for target in (path, meta, self._pending_dir / stem):
                try:
                    await aiofiles.os.remove(target)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise ConversationError(f"cannot delete {target.name}: {exc}") from exc
            self._checked_tail.discard(stem)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        try:
            found = await asyncio.to_thread(self._scan_sorted)
        except OSError as exc:
            raise ConversationError(f"cannot list {self.directory}: {exc}") from exc
        result = []
        for mtime, path in found[offset : offset + limit]:
            conversation_id = await self._read_id(path)
            if conversation_id is not None:
                result.append(ConversationInfo(conversation_id, mtime))
        return result

    def _scan_sorted(self) -> list[tuple[float, Path]]:
        entries = []
        with os.scandir(self.directory) as it:
            for entry in it:
                if entry.name.endswith(".jsonl") and entry.is_file():
                    entries.append((entry.stat().st_mtime, Path(entry.path)))
        entries.sort(key=lambda item: item[0], reverse=True)
        return entries

    async def _read_id(self, path: Path) -> str | None:
        try:
            async with aiofiles.open(path, "rb") as f:
                first = await f.readline()
            value = json.loads(first).get("conversation_id")
            return value if isinstance(value, str) else None
        except (OSError, ValueError, AttributeError):
            logger.warning("store: %s has no readable header; not listed", path.name)
            return None

    # -- metadata and the pending index -------------------------------------------------

    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        _, _, meta = self._paths(conversation_id)
        try:
            async with aiofiles.open(meta, "rb") as f:
                data = json.loads(await f.read())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConversationError(f"cannot read {meta.name}: {exc}") from exc
        return dict(data.get("data") or {})

    async def save_metadata(self, conversation_id: str, data: dict[str, Any]) -> None:
        stem, _, meta = self._paths(conversation_id)
        body = json.dumps({"conversation_id": conversation_id, "data": data}, ensure_ascii=False)
        async with self._lock(stem):
            try:
                await self._replace(meta, body.encode("utf-8", "surrogatepass"))
            except OSError as exc:
                raise ConversationError(f"cannot save {meta.name}: {exc}") from exc

    async def set_pending(self, conversation_id: str, pending: bool) -> None:
        marker = self._pending_dir / file_stem(conversation_id)
        try:
            if pending:
                await self._replace(marker, conversation_id.encode("utf-8", "surrogatepass"))
            else:
                await aiofiles.os.remove(marker)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConversationError(f"cannot update the pending index: {exc}") from exc

    async def list_pending(self) -> list[str]:
        try:
            names = await aiofiles.os.listdir(self._pending_dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConversationError(f"cannot read the pending index: {exc}") from exc
        ids = []
        for name in sorted(names):
            if name.startswith("."):
                continue  # a temp file of _replace (in flight, or left by a crash)
            try:
                async with aiofiles.open(self._pending_dir / name, "rb") as f:
                    ids.append((await f.read()).decode("utf-8", "surrogatepass"))
            except (OSError, UnicodeDecodeError):
                logger.warning("store: unreadable pending marker %s skipped", name)
        return ids

    # -- helpers -----------------------------------------------------------------------

    async def _replace(self, target: Path, data: bytes) -> None:
        """Write-temp-then-rename, so readers see the old or the new file, never half."""
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            async with aiofiles.open(tmp, "wb") as f:
                await f.write(data)
                await f.flush()
                if self.fsync:
                    await asyncio.to_thread(os.fsync, f.fileno())
            await aiofiles.os.replace(tmp, target)
        except BaseException:
            try:
                await aiofiles.os.remove(tmp)
            except OSError:
                pass
            raise


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _parse(lines: list[bytes], name: str) -> list[Message]:
    messages: list[Message] = []
    last = len(lines) - 1
    for number, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if "role" not in data and "conversation_id" in data:
                continue  # the header line
            messages.append(Message.from_dict(data))
        except (ValueError, TypeError, AttributeError) as exc:  # AttributeError: not an object
            where = "torn last line" if number >= last - 1 else f"corrupt line {number + 1}"
            logger.warning("store: %s: %s skipped (%s)", name, where, type(exc).__name__)
    return messages
