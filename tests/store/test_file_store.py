"""FileStore specifics: file names, crash leftovers, corrupt lines, a broken directory."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from src.conversation.message import Message
from src.errors import ConversationError
from src.store.file.conversations import FileStore

HOSTILE_IDS = [
    "../../etc/passwd",
    "a/b",
    "a_b",
    "a:b",
    "a\\b",
    "a b",
    "/abs",
    "..",
    ".",
    "",
    ".hidden",
    "-1001234567890:42",
    "é😀" * 2000,  # 10 kB of UTF-8
    "a\x00b",
    "a\nb",
    "\ud800",  # a lone surrogate
    "con",
    "CON",
    "nul.txt",
    "x" * 300,
    "x" * 301,
    "~",
    "*?<>|",
]


def user(text: str) -> Message:
    return Message(role="user", content=text, created_at=1.0)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
async def store(directory: Path) -> AsyncIterator[FileStore]:
    store = FileStore(directory, fsync=True)
    await store.open()
    yield store
    await store.close()


def all_files(root: Path) -> list[Path]:
    return [Path(here) / name for here, _, names in os.walk(root) for name in names]


def assert_contained(tmp_path: Path, directory: Path) -> list[Path]:
    """Every file is a direct child of the store directory, and nothing was created beside
    it. Returns the files."""
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]
    subdirs = [Path(here) / d for here, dirs, _ in os.walk(directory) for d in dirs]
    assert subdirs == []
    files = all_files(directory)
    for path in files:
        assert path.parent == directory, path
        assert len(os.fsencode(path.name)) < 255, path.name
    return files


def replace_with_a_file(directory: Path) -> None:
    for path in all_files(directory):
        path.unlink()
    directory.rmdir()
    directory.write_text("not a directory")


def history_path(store: FileStore, conversation_id: str) -> Path:
    (jsonl,) = [p for p in store.directory.glob("*.jsonl") if _header_id(p) == conversation_id]
    return jsonl


def _header_id(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0]
    return str(json.loads(first.decode("utf-8", "surrogatepass"))["conversation_id"])


# -- names ----------------------------------------------------------------------------


async def test_hostile_ids_stay_inside_and_never_collide(
    store: FileStore, directory: Path, tmp_path: Path
) -> None:
    assert len(set(HOSTILE_IDS)) == len(HOSTILE_IDS)
    for index, cid in enumerate(HOSTILE_IDS):
        await store.append_messages(cid, [user(f"first {index}")])
        await store.append_messages(cid, [user(f"second {index}")])

    files = assert_contained(tmp_path, directory)
    assert len(files) == len(HOSTILE_IDS)  # one history file per id

    # each id gets its own history back
    for index, cid in enumerate(HOSTILE_IDS):
        got = await store.load_recent(cid, None)
        assert [m.content for m in got] == [f"first {index}", f"second {index}"], repr(cid)[:40]
    listed = {info.conversation_id for info in await store.list_conversations(limit=1000)}
    assert listed == set(HOSTILE_IDS)

    for cid in HOSTILE_IDS:
        await store.delete_conversation(cid)
    assert all_files(directory) == []


async def test_file_names_are_readable_for_ordinary_ids(store: FileStore) -> None:
    await store.append_messages("-1001234567890:42", [user("hi")])
    (path,) = store.directory.glob("*.jsonl")
    assert path.name.startswith("-1001234567890_42-")


# -- crash leftovers and corrupt lines ------------------------------------------------


async def test_torn_last_line_is_skipped_and_sealed(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = FileStore(directory)
    await before.open()
    await before.append_messages("c", [user("one"), user("two")])
    path = history_path(before, "c")
    with path.open("ab") as f:  # a crash in the middle of a write
        f.write(b'{"role":"user","content":"thr')

    after = FileStore(directory)  # the restarted process
    with caplog.at_level(logging.WARNING, logger="src.store.file.conversations"):
        assert [m.content for m in await after.load_recent("c", None)] == ["one", "two"]
        assert [m.content for m in await after.load_recent("c", 5)] == ["one", "two"]
    assert "torn last line" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="src.store.file.conversations"):
        await after.append_messages("c", [user("four")])
        await after.append_messages("c", [user("five")])
    assert "sealing" in caplog.text
    assert [m.content for m in await after.load_recent("c", None)] == ["one", "two", "four", "five"]
    assert [m.content for m in await after.load_recent("c", 2)] == ["four", "five"]


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_FSIZE semantics of Linux")
async def test_a_failed_append_does_not_swallow_the_next_one(store: FileStore) -> None:
    """A write cut short (disk full, file too large) leaves part of a line behind; the next
    append by the same process must not be glued to it."""
    await store.append_messages("c", [user("one")])
    path = history_path(store, "c")
    size = path.stat().st_size

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, hard))
    try:
        with pytest.raises(ConversationError):
            await store.append_messages("c", [user("two" * 100)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert path.stat().st_size == size + 10  # part of a line was written

    await store.append_messages("c", [user("three")])
    assert [m.content for m in await store.load_recent("c", None)] == ["one", "three"]
    assert [m.content for m in await store.load_recent("c", 1)] == ["three"]


async def test_corrupt_middle_line_is_skipped(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.append_messages("c", [user("one")])
    path = history_path(store, "c")
    with path.open("ab") as f:
        f.write(b"\x00\xff garbage {\n")
        f.write(b'{"role":"wizard","content":"x"}\n')
        f.write(b'{"role":"user","content":7}\n')
        f.write(b"[1, 2]\n")
    await store.append_messages("c", [user("two"), user("three")])

    with caplog.at_level(logging.WARNING, logger="src.store.file.conversations"):
        assert [m.content for m in await store.load_recent("c", None)] == ["one", "two", "three"]
        assert [m.content for m in await store.load_recent("c", 10)] == ["one", "two", "three"]
    assert "corrupt line 3" in caplog.text


@pytest.mark.parametrize("line_bytes", [65_535, 65_536, 65_537])
async def test_load_recent_with_a_line_ending_on_the_block_boundary(
    store: FileStore, line_bytes: int
) -> None:
    """Lines of exactly 64 KiB ± 1 byte, so a block read starts at, just before and just
    after a line start."""

    def sized(tag: str) -> Message:
        probe = Message(role="user", content=tag, created_at=1.0)
        overhead = len(json.dumps(probe.to_dict(), separators=(",", ":"))) + 1 - len(tag)
        padding = "x" * (line_bytes - overhead - len(tag))
        return Message(role="user", content=tag + padding, created_at=1.0)

    history = [sized(f"{i}:") for i in range(5)]
    await store.append_messages("c", history)
    lines = history_path(store, "c").read_bytes().split(b"\n")[1:-1]
    assert [len(line) + 1 for line in lines] == [line_bytes] * 5
    for limit in range(1, 7):
        assert await store.load_recent("c", limit) == history[-limit:]


async def test_load_recent_of_a_long_file_parses_the_tail_only_and_skips_a_corrupt_line(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.append_messages("c", [user(f"m{i}") for i in range(10)])
    path = history_path(store, "c")
    with path.open("ab") as f:
        f.write(b"early garbage\n")
    await store.append_messages("c", [user(f"m{i}") for i in range(10, 1000)])
    with path.open("ab") as f:
        f.write(b"not json\n")
    await store.append_messages("c", [user("last")])
    with caplog.at_level(logging.WARNING, logger="src.store.file.jsonl_io"):
        recent = await store.load_recent("c", 3)
    assert [m.content for m in recent] == ["m998", "m999", "last"]
    assert caplog.text.count("skipped") == 1  # the early garbage, outside the tail: not parsed


def meta_path(store: FileStore, conversation_id: str) -> Path:
    return history_path(store, conversation_id).with_suffix(".meta.json")


async def test_replacing_files_leaves_no_temp_files(store: FileStore) -> None:
    for round_ in range(3):
        await store.save_conversation("c", [user(f"v{round_}")])
    names = [p.name for p in all_files(store.directory)]
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")], names
    assert [m.content for m in await store.load_recent("c", None)] == ["v2"]


# -- a broken directory -----------------------------------------------------------------


async def test_directory_replaced_by_a_file(store: FileStore, directory: Path) -> None:
    await store.append_messages("c", [user("one")])
    replace_with_a_file(directory)

    with pytest.raises(ConversationError):
        await store.ping()
    with pytest.raises(ConversationError):
        await store.append_messages("c", [user("two")])
    with pytest.raises(ConversationError):
        await store.load_recent("c", None)
    with pytest.raises(ConversationError):
        await store.load_recent("c", 5)
    with pytest.raises(ConversationError):
        await store.save_conversation("c", [user("x")])
    with pytest.raises(ConversationError):
        await store.list_conversations()
    with pytest.raises(ConversationError):
        await store.open()


async def test_ping_fails_when_the_directory_is_missing(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "never-opened")
    with pytest.raises(ConversationError, match="missing"):
        await store.ping()
    await store.open()
    await store.ping()
