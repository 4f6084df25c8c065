"""Storage: the three interfaces by job, and the factory that builds them from config.

- conversations (conversations.py): message histories (append, recent window, delete, list)
- records (records.py): small versioned records with a user index and a due-time index
- inbox (inbox.py): the updates accepted but not yet answered, kept as records

Both backends (file: JSONL + SQLite; dynamodb: one table) implement the first two; the inbox
runs on either's records. Each is wrapped for /metrics (metered.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from src.config import StoreConfig
from src.errors import ConfigError
from src.store.conversations import ConversationInfo, ConversationStore
from src.store.inbox import Inbox, InboxItem
from src.store.metered import MeteredRecords, MeteredStore
from src.store.records import Record, RecordStore

__all__ = [
    "ConversationInfo",
    "ConversationStore",
    "Inbox",
    "InboxItem",
    "Record",
    "RecordStore",
    "Storage",
    "create_storage",
]


@dataclass
class Storage:
    conversations: ConversationStore
    records: RecordStore
    inbox: Inbox
    migration: Callable[[], Awaitable[int]] | None = None  # run at open

    async def open(self) -> None:
        """Open both stores and bring an older layout up to date. ConversationError if the
        backend cannot be used; nothing stays open then."""
        await self.conversations.open()
        try:
            await self.records.open()
            if self.migration is not None:
                await self.migration()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        try:
            await self.records.close()
        finally:
            await self.conversations.close()

    async def ping(self) -> None:
        await self.conversations.ping()
        await self.records.ping()


def create_storage(config: StoreConfig, config_file: str = "config.yml") -> Storage:
    """The configured backend's stores (not opened), timed for /metrics. Backends with heavy
    imports are imported only here."""
    conversations: ConversationStore
    records: RecordStore
    if config.type == "file":
        from src.store.file.conversations import FileStore
        from src.store.file.migrate import migrate
        from src.store.file.records import SQLiteRecords

        directory = Path(config.file.directory)
        conversations = FileStore(directory, fsync=config.file.fsync)
        sqlite = SQLiteRecords(directory, fsync=config.file.fsync)
        records, migration = sqlite, partial(migrate, directory, sqlite)
    elif config.type == "dynamodb":
        from src.store.dynamodb.client import DynamoDBClient
        from src.store.dynamodb.conversations import DynamoDBStore
        from src.store.dynamodb.records import DynamoDBRecords

        client = DynamoDBClient(config.dynamodb)  # boto3 loads in open()
        from src.store.dynamodb.migrate import migrate as migrate_table

        conversations = DynamoDBStore(config.dynamodb, client)
        table_records = DynamoDBRecords(config.dynamodb, client)
        records, migration = table_records, partial(migrate_table, table_records)
    else:
        raise ConfigError(
            config_file, "store.type", f"the {config.type!r} store is not available in this build"
        )
    metered = MeteredRecords(records)
    return Storage(MeteredStore(conversations), metered, Inbox(metered), migration)
