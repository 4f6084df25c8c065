"""DynamoDB conversation store: one item per message, so no conversation meets the 400 KB
item limit and an append costs the same at any length (item layout: dynamodb_codec).

- Append: one UpdateItem on the conversation's summary reserves a range of sequence numbers
  (atomically: two writers never get the same numbers, a batch stays whole), then each item
  is put with `attribute_not_exists`, so nothing is ever overwritten. No transactions.
- Window: a descending Query with a Limit; full loads page past the 1 MB page limit.
- Listing: a sparse GSI on the summaries. The conversation's small records (settings, usage,
  the inbox) are in the same table, written by records.py.
Every boto3 call runs in the client's thread pool (client.py, requests.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.errors import ConversationError
from src.store.conversations import ConversationInfo, ConversationStore
from src.store.dynamodb.client import Capacity, DynamoDBClient
from src.store.dynamodb.codec import (
    Item,
    conversation_key,
    pack_messages,
    sequence,
)
from src.store.dynamodb.listing import ListingRequests
from src.store.dynamodb.requests import BATCH, TableRequests
from src.store.dynamodb.table import check_usable, describe, prepare_table
from src.store.locks import KeyedLocks

logger = logging.getLogger(__name__)

_CONFLICT_TRIES = 8


class DynamoDBStore(ConversationStore):
    name = "dynamodb"

    def __init__(self, config: DynamoDBStoreConfig, client: DynamoDBClient | None = None) -> None:
        self.config = config
        self.table = config.table
        self.client = client or DynamoDBClient(config)
        self.requests = TableRequests(self.client, config)
        self.listing = ListingRequests(self.client, config)
        self._append_locks = KeyedLocks()

    @property
    def capacity(self) -> Capacity:
        """Capacity units consumed so far, as DynamoDB reported them."""
        return self.client.capacity

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Create the table (create_table) or check it; ConversationError if unusable."""
        config, call = self.config, self.client.call_sync
        try:
            await self.client.start()
            await self.client.run(
                prepare_table, call, self.table, config.create_table, config.ttl_days
            )
        except BaseException:
            await self.client.close()  # callers need not close a store that did not open
            raise

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        await self.client.run(check_usable, self.client.call_sync, self.table)

    async def describe(self) -> str:
        """One line for --check: the table's status, billing mode, size and TTL."""
        call = self.client.call_sync
        return await self.client.run(describe, call, self.table, self.config.region)

    # -- messages ----------------------------------------------------------------------

    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        if messages:
            await self._write(conversation_id, messages, commit=False)

    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        """Replace the whole history: a bulk import (benchmarks seed long histories with it),
        not part of the interface. The new history becomes visible at once, when its commit
        marker is written; the old one is deleted after that."""
        pk = conversation_key(conversation_id)
        floor = await self._write(conversation_id, messages, commit=True)
        try:
            await self.client.run(self.requests.after_save, pk, floor, len(messages))
        except ConversationError as exc:  # the old items are invisible already
            logger.warning(
                "conversation %s: replaced messages stay for now: %s", conversation_id, exc
            )

    async def _write(self, conversation_id: str, messages: list[Message], commit: bool) -> int:
        """Reserve sequence numbers, then put the items. Returns the first number."""
        pk = conversation_key(conversation_id)
        token = uuid.uuid4().hex[:16]
        run, requests = self.client.run, self.requests
        async with self._append_locks.hold(pk):  # this process's appends keep their order
            bodies = await run(pack_messages, messages)
            size = sum(len(parts) for parts in bodies) + (1 if commit else 0)
            first = await run(requests.reserve, pk, size, len(messages))
        for _ in range(_CONFLICT_TRIES):
            items = requests.lay_out(pk, first, bodies, token, commit)
            body = items[:-1] if commit else items
            if await self._put_all(body, token):
                if not commit or await self._put_all(items[-1:], token):  # the commit marker
                    return first
                await run(requests.take_back, body, token)
            # Another writer's items hold these numbers (items outlived their summary): ours
            # are taken back; move the counter past theirs and write after them.
            logger.warning(
                "conversation %s: sequence numbers from %d were taken; writing after them",
                conversation_id,
                first,
            )
            await run(requests.repair_counter, pk)
            first = await run(requests.reserve, pk, size, 0)
        raise ConversationError("could not find free sequence numbers for the new messages")

    async def _put_all(self, items: list[Item], token: str) -> bool:
        """Put the items. False if another writer's items hold some of their keys; then
        none of them stays written."""
        run, requests = self.client.run, self.requests
        if len(items) <= BATCH:  # what a turn appends: conditional puts, side by side
            done = await asyncio.gather(*(run(requests.put, item, token) for item in items))
            if all(done):
                return True
            written = [item for item, ok in zip(items, done, strict=True) if ok]
            await run(requests.take_back, written, token)
            return False
        # Bulk (imports, save_conversation): the reserved range is checked empty, then written
        # 25 items a request. Only a lost counter could let another writer in between.
        pk, low, high = items[0]["pk"]["S"], sequence(items[0]), sequence(items[-1])
        if not await run(requests.range_free, pk, low, high):
            return False
        batches = [
            [{"PutRequest": {"Item": item}} for item in items[i : i + BATCH]]
            for i in range(0, len(items), BATCH)
        ]
        await asyncio.gather(*(run(requests.batch_write, batch) for batch in batches))
        return True

    async def load_recent(self, conversation_id: str, limit: int | None) -> list[Message]:
        if limit is not None and limit <= 0:
            return []
        pk = conversation_key(conversation_id)
        return await self.client.run(self.requests.read, pk, conversation_id, limit)

    async def delete_conversation(self, conversation_id: str) -> None:
        pk = conversation_key(conversation_id)
        await self.client.run(self.requests.delete_conversation, pk)

    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        if limit <= 0:
            return []
        return await self.client.run(self.listing.list_conversations, limit, max(offset, 0))
