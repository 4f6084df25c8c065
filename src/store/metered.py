"""Timing wrappers for /metrics: MeteredStore around a ConversationStore, MeteredRecords
around a RecordStore; every operation's latency and failures are recorded by name."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from src.conversation.message import Message
from src.ops.metrics import record_store_operation
from src.store.conversations import ConversationInfo, ConversationStore
from src.store.records import Change, Record, RecordStore


class _Passthrough:
    """Anything that is not part of the interface (a backend's own attributes) is read from
    `inner` unchanged."""

    inner: Any

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the wrapper does not have itself.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class MeteredStore(_Passthrough, ConversationStore):
    """Delegates every method to `inner`."""

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.name = inner.name

    async def open(self) -> None:
        with _Timed(self.name, "open"):
            await self.inner.open()

    async def close(self) -> None:
        with _Timed(self.name, "close"):
            await self.inner.close()

    async def ping(self) -> None:
        with _Timed(self.name, "ping"):
            await self.inner.ping()

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        with _Timed(self.name, "append_messages"):
            await self.inner.append_messages(conversation_id, messages)

    async def load_recent(self, conversation_id: str, limit: int | None) -> list[Message]:
        with _Timed(self.name, "load_recent"):
            return await self.inner.load_recent(conversation_id, limit)

    async def delete_conversation(self, conversation_id: str) -> None:
        with _Timed(self.name, "delete_conversation"):
            await self.inner.delete_conversation(conversation_id)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        with _Timed(self.name, "list_conversations"):
            return await self.inner.list_conversations(limit, offset)


class MeteredRecords(_Passthrough, RecordStore):
    """Delegates every method to `inner` (its own `update`, in one step or with conditional
    writes, is kept), timed as `records_<operation>`."""

    def __init__(self, inner: RecordStore) -> None:
        self.inner = inner
        self.name = inner.name

    async def open(self) -> None:
        with _Timed(self.name, "records_open"):
            await self.inner.open()

    async def close(self) -> None:
        with _Timed(self.name, "records_close"):
            await self.inner.close()

    async def ping(self) -> None:
        with _Timed(self.name, "records_ping"):
            await self.inner.ping()

    async def get(self, kind: str, key: str) -> Record | None:
        with _Timed(self.name, "records_get"):
            return await self.inner.get(kind, key)

    async def put(self, record: Record) -> Record:
        with _Timed(self.name, "records_put"):
            return await self.inner.put(record)

    async def delete(self, kind: str, key: str, version: int | None = None) -> None:
        with _Timed(self.name, "records_delete"):
            await self.inner.delete(kind, key, version)

    async def find(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        due_before: float | None = None,
        limit: int = 100,
    ) -> list[Record]:
        with _Timed(self.name, "records_find"):
            return await self.inner.find(kind, user_id=user_id, due_before=due_before, limit=limit)

    async def update(self, kind: str, key: str, change: Change) -> Record | None:
        with _Timed(self.name, "records_update"):
            return await self.inner.update(kind, key, change)

    async def add(
        self, kind: str, key: str, amounts: Mapping[str, int], *, user_id: int | None = None
    ) -> Record:
        with _Timed(self.name, "records_add"):
            return await self.inner.add(kind, key, amounts, user_id=user_id)

    async def add_many(
        self, kind: str, keys: Mapping[str, int | None], amounts: Mapping[str, int]
    ) -> dict[str, Record]:
        with _Timed(self.name, "records_add"):
            return await self.inner.add_many(kind, keys, amounts)


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
