"""Per-key asyncio locks: one lock per key while anyone holds or waits for it, then gone."""

from __future__ import annotations

import asyncio
import weakref


class KeyedLocks:
    """`async with locks.hold(key):` runs one holder of `key` at a time in this process. The
    map keeps a lock only while it is referenced (a weak map), so it never grows with keys."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def hold(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
