"""MeteredStore: wraps any ConversationStore and times every operation for /metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from src.conversation.message import Message
from src.conversation.store.base_store import ConversationInfo, ConversationStore
from src.ops.metrics import record_store_operation


class MeteredStore(ConversationStore):
    """Delegates every method to `inner`; records latency and failures by operation.

    Anything that is not part of the interface (a backend's own attributes) is read from
    `inner` unchanged.
    """

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this wrapper does not have itself.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @asynccontextmanager
    async def _timed(self, operation: str) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception:
            record_store_operation(self.name, operation, time.perf_counter() - started, False)
            raise
        # A cancelled operation (shutdown) is neither a success nor a store failure.
        record_store_operation(self.name, operation, time.perf_counter() - started, True)

    async def open(self) -> None:
        async with self._timed("open"):
            await self.inner.open()

    async def close(self) -> None:
        async with self._timed("close"):
            await self.inner.close()

    async def ping(self) -> None:
        async with self._timed("ping"):
            await self.inner.ping()

    async def load_conversation(self, conversation_id: str) -> list[Message]:
        async with self._timed("load_conversation"):
            return await self.inner.load_conversation(conversation_id)

    async def load_recent(self, conversation_id: str, limit: int) -> list[Message]:
        async with self._timed("load_recent"):
            return await self.inner.load_recent(conversation_id, limit)

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        async with self._timed("save_conversation"):
            await self.inner.save_conversation(conversation_id, messages)

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        async with self._timed("append_messages"):
            await self.inner.append_messages(conversation_id, messages)

    async def append_and_update(
        self,
        conversation_id: str,
        messages: list[Message],
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        async with self._timed("append_and_update"):
            return await self.inner.append_and_update(conversation_id, messages, change)

    async def delete_conversation(self, conversation_id: str) -> None:
        async with self._timed("delete_conversation"):
            await self.inner.delete_conversation(conversation_id)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        async with self._timed("list_conversations"):
            return await self.inner.list_conversations(limit, offset)

    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        async with self._timed("load_metadata"):
            return await self.inner.load_metadata(conversation_id)

    async def save_metadata(
        self, conversation_id: str, data: dict[str, Any], pending: bool | None = None
    ) -> None:
        async with self._timed("save_metadata"):
            await self.inner.save_metadata(conversation_id, data, pending)

    async def update_metadata(
        self,
        conversation_id: str,
        change: Callable[[dict[str, Any]], Awaitable[None] | None],
        pending: Callable[[dict[str, Any]], bool | None] | None = None,
    ) -> dict[str, Any]:
        # The backend's own read-change-write (its lock, or a conditional write) is kept.
        async with self._timed("update_metadata"):
            return await self.inner.update_metadata(conversation_id, change, pending)

    async def set_pending(self, conversation_id: str, pending: bool) -> None:
        async with self._timed("set_pending"):
            await self.inner.set_pending(conversation_id, pending)

    async def list_pending(self) -> list[str]:
        async with self._timed("list_pending"):
            return await self.inner.list_pending()
