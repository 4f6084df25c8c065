"""The DynamoDB requests that list conversations by their summaries (GSI by_updated), and
read the layout before the records facility for the migration. Synchronous: the store runs
each in its worker threads."""

from __future__ import annotations

import time
from typing import Any

from src.store.conversations import ConversationInfo
from src.store.dynamodb.codec import (
    KEY_PREFIX,
    LIST_KEY,
    LISTING_INDEX,
    METADATA_SK,
    PENDING_PK,
    conversation_id_of,
    number,
    pending_sort_key,
    unpack_record,
)
from src.store.dynamodb.requests import TableClient, key


class ListingRequests(TableClient):
    def list_conversations(self, limit: int, offset: int) -> list[ConversationInfo]:
        """Newest first from the sparse index on the summaries: no scan."""
        params: dict[str, Any] = {
            "IndexName": LISTING_INDEX,
            "KeyConditionExpression": "list_key = :all",
            "ExpressionAttributeValues": {":all": {"S": LIST_KEY}},
            "ScanIndexForward": False,
        }
        horizon = time.time() - self.ttl_days * 86400 if self.ttl_days else 0.0
        found: list[ConversationInfo] = []
        while len(found) < offset + limit:
            params["Limit"] = offset + limit - len(found)
            answer = self._call("query", **params)
            for item in answer["Items"]:
                updated = float(item["updated_at"]["N"])
                if updated > horizon:  # older ones have expired
                    found.append(ConversationInfo(conversation_id_of(item["pk"]["S"]), updated))
            if "LastEvaluatedKey" not in answer:
                break
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[offset : offset + limit]

    # -- the layout before the records facility (read by migrate.py) ---------------------

    def legacy_metadata(self) -> list[tuple[str, dict[str, Any]]]:
        """Every conversation's old metadata record: one Scan of the table, once."""
        params: dict[str, Any] = {
            "FilterExpression": "sk = :meta",
            "ExpressionAttributeValues": {":meta": number(METADATA_SK)},
        }
        found = []
        while True:
            answer = self._call("scan", **params)
            for item in answer["Items"]:
                if item["pk"]["S"].startswith(KEY_PREFIX):
                    data = unpack_record(item, time.time())
                    found.append((conversation_id_of(item["pk"]["S"]), data))
            if "LastEvaluatedKey" not in answer:
                return found
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def drop_legacy(self, conversation_id: str) -> None:
        """Delete a migrated conversation's old metadata item and pending mark."""
        self._call("delete_item", Key=key(KEY_PREFIX + conversation_id, METADATA_SK))
        self._call("delete_item", Key=key(PENDING_PK, pending_sort_key(conversation_id)))
