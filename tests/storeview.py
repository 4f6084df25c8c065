"""What tests read and write of a bot's storage, through the real interfaces: whole
histories, a conversation's record (settings.py), the conversations the inbox still owes.

`StoreView(storage)` uses storage that is open already; `StoreView.of_directory(path)`
opens the file backend for each call, as a second process would while the bot runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from src.config import FileStoreConfig, StoreConfig
from src.conversation import settings
from src.conversation.message import Message
from src.store import Storage, create_storage


class StoreView:
    def __init__(self, storage: Storage | None = None, directory: Path | None = None) -> None:
        self._storage = storage
        self._directory = directory

    @classmethod
    def of_directory(cls, directory: Path) -> StoreView:
        return cls(directory=directory)

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[Storage]:
        if self._storage is not None:
            yield self._storage
            return
        config = StoreConfig(file=FileStoreConfig(directory=str(self._directory), fsync=False))
        storage = create_storage(config)
        await storage.open()
        try:
            yield storage
        finally:
            await storage.close()

    async def load_conversation(self, conversation_id: str) -> list[Message]:
        async with self._open() as storage:
            return await storage.conversations.load_recent(conversation_id, None)

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        async with self._open() as storage:
            await storage.conversations.append_messages(conversation_id, messages)

    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        async with self._open() as storage:
            return await settings.load(storage.records, conversation_id)

    async def save_metadata(self, conversation_id: str, data: dict[str, Any]) -> None:
        async with self._open() as storage:
            await settings.change(storage.records, conversation_id, lambda d: d.update(data))

    async def owed(self) -> list[str]:
        """The conversations the inbox owes an answer, oldest first."""
        async with self._open() as storage:
            return [cid for cid, _ in await storage.inbox.pending()]


@contextmanager
def records_locked(directory: Path) -> Iterator[None]:
    """Another process holds the file backend's records database for writing: every write
    fails (after SQLite's busy timeout) until the block ends."""
    holder = sqlite3.connect(directory / "records.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
