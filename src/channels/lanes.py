"""ChatLanes: one ordered lane per conversation, many lanes at once.

Items of one key run one after another in arrival order; different keys run concurrently,
at most `max_concurrent` at a time. A lane's worker exits when its queue is empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ChatLanes(Generic[T]):
    def __init__(self, handler: Callable[[str, T], Awaitable[None]], max_concurrent: int) -> None:
        self._handler = handler
        self._slots = asyncio.Semaphore(max_concurrent)
        self._queues: dict[str, deque[T]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def submit(self, key: str, item: T) -> None:
        if self._closed:
            raise RuntimeError("lanes are closed")
        self._queues.setdefault(key, deque()).append(item)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"lane:{key}")

    @property
    def busy(self) -> int:
        """How many lanes have work queued or running."""
        return len(self._workers)

    def queued(self, key: str) -> int:
        return len(self._queues.get(key, ()))

    def holds(self, key: str, item: T) -> bool:
        """Whether `item` is queued or running in `key`'s lane."""
        return item in self._queues.get(key, ())

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                async with self._slots:
                    try:
                        await self._handler(key, item)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        logger.exception("conversation %s: unhandled error in lane", key)
                queue.popleft()
        finally:
            self._workers.pop(key, None)
            if not queue:
                self._queues.pop(key, None)

    async def close(self, grace_s: float) -> int:
        """Stop taking work; drop queued items (the inbox still owes them), wait up to
        `grace_s` s for each lane's current item, then cancel what is still running.

        Returns how many lanes were cancelled.
        """
        self._closed = True
        for queue in self._queues.values():
            while len(queue) > 1:
                queue.pop()
        workers = list(self._workers.values())
        if not workers:
            return 0
        _, still_running = await asyncio.wait(workers, timeout=grace_s)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.wait(still_running, timeout=2)
        return len(still_running)
