"""The DynamoDB requests on a conversation's small records: its metadata (versioned), its
mark in the pending index, and the listing of conversations by their summaries. Synchronous:
the store runs each in its worker threads."""

from __future__ import annotations

import time
from typing import Any

from src.store.conversations import ConversationInfo
from src.store.dynamodb.client import RequestError
from src.store.dynamodb.codec import (
    INDEX_NAME,
    LIST_KEY,
    METADATA_SK,
    PENDING_PK,
    TTL_ATTRIBUTE,
    conversation_id_of,
    expiry,
    number,
    pack_record,
    pending_sort_key,
    unpack_record,
)
from src.store.dynamodb.requests import CONDITIONAL, TableClient, key


class RecordRequests(TableClient):
    def list_conversations(self, limit: int, offset: int) -> list[ConversationInfo]:
        """Newest first from the sparse index on the summaries: no scan."""
        params: dict[str, Any] = {
            "IndexName": INDEX_NAME,
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

    # -- metadata and the pending index -------------------------------------------------

    def read_metadata(self, pk: str) -> tuple[dict[str, Any], int]:
        """The record and its version (0: none yet)."""
        item = self._call("get_item", Key=key(pk, METADATA_SK), ConsistentRead=True).get("Item")
        version = int(item["ver"]["N"]) if item and "ver" in item else 0
        return unpack_record(item, time.time()), version

    def write_metadata(
        self, pk: str, data: dict[str, Any], version: int | None, token: str
    ) -> bool:
        """Replace the record, only if still at `version` (None: whatever it is). False when
        another writer got in between."""
        attributes = pack_record(data)
        names = {"#d": "d", "#z": "z", "#v": "ver", "#w": "w"}
        values: dict[str, Any] = {":d": attributes["d"], ":one": number(1), ":w": {"S": token}}
        sets = ["#d = :d", "#w = :w"]
        if "z" in attributes:
            sets.append("#z = :z")
            values[":z"] = attributes["z"]
        if self.ttl_days:
            sets.append("#x = :x")
            names["#x"], values[":x"] = TTL_ATTRIBUTE, expiry(self.ttl_days)
        remove = "" if "z" in attributes else " REMOVE #z"
        params: dict[str, Any] = {
            "Key": key(pk, METADATA_SK),
            "UpdateExpression": f"SET {', '.join(sets)}{remove} ADD #v :one",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if version == 0:
            params["ConditionExpression"] = "attribute_not_exists(#v)"
        elif version is not None:  # unchanged, or deleted meanwhile (by `change` itself)
            params["ConditionExpression"] = "attribute_not_exists(pk) OR #v = :v"
            values[":v"] = number(version)
        try:
            self._call("update_item", **params)
            return True
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise
        found = self._call("get_item", Key=key(pk, METADATA_SK), ConsistentRead=True).get("Item")
        return found is not None and found.get("w") == {"S": token}  # a retry of this write

    def set_pending(self, conversation_id: str, pending: bool) -> None:
        mark = key(PENDING_PK, pending_sort_key(conversation_id))
        if pending:
            self._call("put_item", Item={**mark, "conversation_id": {"S": conversation_id}})
        else:
            self._call("delete_item", Key=mark)

    def list_pending(self) -> list[str]:
        """One strongly consistent Query of the pending partition (paged)."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PENDING_PK}},
            "ConsistentRead": True,
        }
        ids: list[str] = []
        while True:
            answer = self._call("query", **params)
            ids += [item["conversation_id"]["S"] for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return ids
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
