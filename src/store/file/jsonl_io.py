"""Blocking file operations of the JSONL store, each one whole operation (open, write, fsync,
close) so that the store makes one worker-thread hop per call instead of one per syscall."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from src.conversation.message import Message

logger = logging.getLogger(__name__)

BLOCK = 64 * 1024


def line(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    return text.encode("utf-8", "surrogatepass")


# Appends and markers use the file descriptor directly: half the system calls of a buffered
# file object (no isatty probe, no position bookkeeping), on the path every turn takes.
_APPEND = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _ends_inside_line(fd: int, size: int) -> bool:
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1) != b"\n"


def append(path: Path, payload: bytes, header: bytes, check_tail: bool, fsync: bool) -> None:
    """Append lines; a new file gets the header first. With `check_tail`, a last line torn by
    a crash is closed off first, so the new lines stay readable."""
    fd = os.open(path, _APPEND, 0o666)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            payload = header + payload
        elif check_tail and _ends_inside_line(fd, size):
            logger.warning("store: %s ended inside a line; sealing it", path.name)
            payload = b"\n" + payload
        _write_all(fd, payload)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_messages(path: Path) -> list[Message]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return parse(data.split(b"\n"), path.name)


def read_recent(path: Path, limit: int) -> tuple[list[Message], list[int]]:
    """The last `limit` messages and the bytes each takes in the file, reading blocks
    backwards from the end of the file."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            chunks: list[bytes] = []
            newlines, pos = 0, end
            while pos > 0 and newlines <= limit + 1:
                step = min(BLOCK, pos)
                pos -= step
                f.seek(pos)
                chunk = f.read(step)
                chunks.append(chunk)
                newlines += chunk.count(b"\n")
    except FileNotFoundError:
        return [], []
    lines = b"".join(reversed(chunks)).split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first piece may be a partial line
    # Parse only the tail: the last `limit` lines that hold something, plus two, so a torn
    # or corrupt line among them still leaves `limit` messages when the file has them.
    kept, start = 0, len(lines)
    while start > 0 and kept < limit + 2:
        start -= 1
        kept += bool(lines[start].strip())
    sizes: list[int] = []
    messages = parse(lines[start:], path.name, sizes)
    return messages[-limit:], sizes[-limit:]


def replace(target: Path, data: bytes, fsync: bool) -> None:
    """Write-temp-then-rename, so readers see the old or the new file, never half."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def read_record(path: Path) -> Any:
    """The last whole record of a record log (None if there is no file). A torn or corrupt
    last line leaves the record before it in force; with no readable record, ValueError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    for raw in reversed(data.split(b"\n")):
        if raw.strip():
            try:
                return json.loads(raw)
            except ValueError:
                logger.warning("store: %s: an unreadable record skipped", path.name)
    raise ValueError("no readable record")


def scan_sorted(directory: Path) -> list[tuple[float, Path]]:
    """(mtime, path) of every history file, newest first."""
    entries = []
    with os.scandir(directory) as it:
        for entry in it:
            if entry.name.endswith(".jsonl") and entry.is_file():
                entries.append((entry.stat().st_mtime, Path(entry.path)))
    entries.sort(key=lambda item: item[0], reverse=True)
    return entries


def read_header_id(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            value = json.loads(f.readline()).get("conversation_id")
        return value if isinstance(value, str) else None
    except (OSError, ValueError, AttributeError):
        logger.warning("store: %s has no readable header; not listed", path.name)
        return None


def parse(lines: list[bytes], name: str, sizes: list[int] | None = None) -> list[Message]:
    """The messages in `lines`; with `sizes`, the bytes of each one's line go there."""
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
            if sizes is not None:
                sizes.append(len(raw) + 1)
        except (ValueError, TypeError, AttributeError) as exc:  # AttributeError: not an object
            where = "torn last line" if number >= last - 1 else f"corrupt line {number + 1}"
            logger.warning("store: %s: %s skipped (%s)", name, where, type(exc).__name__)
    return messages
