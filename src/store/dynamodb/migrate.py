"""The DynamoDB backend's one-time migration from the layout before the storage split.

Then, a conversation's metadata item (sk = -1) held its settings and usage together with
the inbox's owed updates, and the "pending" partition indexed unfinished turns. Now they are
a "conversation" and an "inbox" record. The table's new indexes are added when it is opened
(table.py); this moves the data: one Scan of the table, once, then the old items are
deleted and a "store_state" record marks the layout as done. Another replica migrating at
the same moment is harmless: a record that exists already is left as it is.
"""

from __future__ import annotations

import logging
import time

from src.errors import RecordConflictError
from src.store.dynamodb.listing import ListingRequests
from src.store.dynamodb.records import DynamoDBRecords
from src.store.legacy import LAYOUT, split
from src.store.records import Record

logger = logging.getLogger(__name__)

STATE = ("store_state", "layout")


async def migrate(records: DynamoDBRecords) -> int:
    """Move the old layout's metadata into records. Returns how many records it wrote."""
    state = await records.get(*STATE)
    if state is not None and state.data.get("version") == LAYOUT:
        return 0
    listing = ListingRequests(records.client, records.requests_config)
    found = await records.client.run(listing.legacy_metadata)
    written = 0
    now = time.time()
    for conversation_id, data in found:
        for record in split(conversation_id, data, now):
            written += await _create(records, record)
        await records.client.run(listing.drop_legacy, conversation_id)
    await records.update(*STATE, lambda r: r.changed(data={"version": LAYOUT}))
    if found:
        logger.info(
            "store: moved the metadata of %d conversation(s) into records (%d written)",
            len(found),
            written,
        )
    return written


async def _create(records: DynamoDBRecords, record: Record) -> int:
    try:
        await records.put(record)
    except RecordConflictError:
        return 0  # written by a migration that ran before (or another replica)
    return 1
