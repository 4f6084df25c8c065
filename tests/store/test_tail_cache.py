"""The file store's cache of recent messages: what it returns, and its bounds."""

from __future__ import annotations

import random
from pathlib import Path

from src.conversation.message import Message
from src.store.file.conversations import FileStore
from src.store.file.tail_cache import TailCache


def msgs(*texts: str) -> list[Message]:
    return [Message(role="user", content=t, created_at=1.0) for t in texts]


def test_a_tail_answers_limits_up_to_its_cap_and_follows_appends() -> None:
    cache = TailCache()
    cache.fill("c", 3, msgs("a", "b", "c"), [10, 10, 10])
    assert cache.get("c", 4) is None  # more than was read: not known here
    cache.extend("c", msgs("d"), [10])
    got = cache.get("c", 3)
    assert got is not None and [m.content for m in got] == ["b", "c", "d"]
    got.clear()  # the caller's list is its own
    assert [m.content for m in cache.get("c", 2) or []] == ["c", "d"]
    cache.extend("unknown", msgs("x"), [10])  # a tail not kept stays unknown
    assert cache.get("unknown", 1) is None


def test_the_least_recently_used_tails_go_first() -> None:
    cache = TailCache(max_conversations=2, max_bytes=100)
    cache.fill("a", 5, msgs("1"), [10])
    cache.fill("b", 5, msgs("1"), [10])
    assert cache.get("a", 1) is not None  # "a" is now the most recent
    cache.fill("c", 5, msgs("1"), [10])
    assert cache.get("b", 1) is None and cache.get("a", 1) is not None
    cache.extend("a", msgs("2", "3"), [45, 45])  # 100 + 10 bytes in all: "c" must go
    assert cache.get("c", 1) is None
    assert [m.content for m in cache.get("a", 3) or []] == ["1", "2", "3"]
    cache.fill("big", 5, msgs("x"), [500])  # larger than the whole budget: kept by nobody
    assert cache.get("big", 1) is None and cache.get("a", 1) is None


async def test_store_windows_with_the_cache_match_a_fresh_read(tmp_path: Path) -> None:
    """Random appends, window reads, rewrites and deletes: every window equals what a store
    with nothing cached reads from the files."""
    rng = random.Random(7)
    store = FileStore(tmp_path, fsync=False)
    await store.open()
    for step in range(400):
        cid = f"c{rng.randrange(3)}"
        action = rng.random()
        if action < 0.5:
            await store.append_messages(
                cid, msgs(*(f"{step}.{i}" for i in range(rng.randrange(1, 4))))
            )
        elif action < 0.9:
            limit = rng.choice([1, 5, 20])
            fresh = await FileStore(tmp_path).load_recent(cid, limit)
            assert await store.load_recent(cid, limit) == fresh
        elif action < 0.95:
            await store.save_conversation(cid, msgs(f"rewritten {step}"))
        else:
            await store.delete_conversation(cid)
