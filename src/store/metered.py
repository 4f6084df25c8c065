"""MeteredStore: wraps any ConversationStore and times every operation for /metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from src.conversation.message import Message
from src.ops.metrics import record_store_operation
from src.store.conversations import ConversationInfo, ConversationStore


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

    def _timed(self, operation: str) -> _Timed:
        return _Timed(self.name, operation)

    async def open(self) -> None:
        with self._timed("open"):
            await self.inner.open()

    async def close(self) -> None:
        with self._timed("close"):
            await self.inner.close()

    async def ping(self) -> None:
        with self._timed("ping"):
            await self.inner.ping()

    async def load_conversation(self, conversation_id: str) -> list[Message]:
        with self._timed("load_conversation"):
            return await self.inner.load_conversation(conversation_id)

    async def load_recent(self, conversation_id: str, limit: int) -> list[Message]:
        with self._timed("load_recent"):
            return await self.inner.load_recent(conversation_id, limit)

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        with self._timed("save_conversation"):
            await self.inner.save_conversation(conversation_id, messages)

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        with self._timed("append_messages"):
            await self.inner.append_messages(conversation_id, messages)

    async def append_and_update(
        self,
        conversation_id: str,
        messages: list[Message],
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        with self._timed("append_and_update"):
            return await self.inner.append_and_update(conversation_id, messages, change)

    async def delete_conversation(self, conversation_id: str) -> None:
        with self._timed("delete_conversation"):
            await self.inner.delete_conversation(conversation_id)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        with self._timed("list_conversations"):
            return await self.inner.list_conversations(limit, offset)

    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        with self._timed("load_metadata"):
            return await self.inner.load_metadata(conversation_id)

    async def save_metadata(
        self, conversation_id: str, data: dict[str, Any], pending: bool | None = None
    ) -> None:
        with self._timed("save_metadata"):
            await self.inner.save_metadata(conversation_id, data, pending)

    async def update_metadata(
        self,
        conversation_id: str,
        change: Callable[[dict[str, Any]], Awaitable[None] | None],
        pending: Callable[[dict[str, Any]], bool | None] | None = None,
    ) -> dict[str, Any]:
        # The backend's own read-change-write (its lock, or a conditional write) is kept.
        with self._timed("update_metadata"):
            return await self.inner.update_metadata(conversation_id, change, pending)

    async def set_pending(self, conversation_id: str, pending: bool) -> None:
        with self._timed("set_pending"):
            await self.inner.set_pending(conversation_id, pending)

    async def list_pending(self) -> list[str]:
        with self._timed("list_pending"):
            return await self.inner.list_pending()


class _Timed:
    """Times one operation (a plain context manager: a generator-based one costs more)."""

    __slots__ = ("backend", "operation", "started")

    def __init__(self, backend: str, operation: str) -> None:
        self.backend = backend
        self.operation = operation
        self.started = time.perf_counter()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # A cancelled operation (shutdown) is neither a success nor a store failure.
        if kind is None or issubclass(kind, Exception):
            seconds = time.perf_counter() - self.started
            record_store_operation(self.backend, self.operation, seconds, kind is None)
