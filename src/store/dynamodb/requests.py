"""The DynamoDB requests on message items, one method per job. Synchronous: the store runs
each in its worker threads (dynamodb_client); the item layout is in dynamodb_codec."""

from __future__ import annotations

import random
import time
from typing import Any

from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.errors import ConversationError
from src.store.dynamodb.client import DynamoDBClient, RequestError
from src.store.dynamodb.codec import (
    LIST_KEY,
    SUMMARY_SK,
    TTL_ATTRIBUTE,
    HistoryReader,
    Item,
    expiry,
    number,
    sequence,
)

CONDITIONAL = "ConditionalCheckFailedException"
BATCH = 25  # BatchWriteItem's limit
_BATCH_TRIES = 8
_MESSAGES = "pk = :pk AND sk > :zero"


def key(pk: str, sk: int) -> Item:
    return {"pk": {"S": pk}, "sk": number(sk)}


class TableClient:
    """Synchronous requests on the configured table (run in the store's worker threads)."""

    def __init__(self, client: DynamoDBClient, config: DynamoDBStoreConfig) -> None:
        self.client = client
        self.table = config.table
        self.ttl_days = config.ttl_days

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.client.call_sync(operation, TableName=self.table, **params)


class TableRequests(TableClient):
    # -- writing messages --------------------------------------------------------------

    def reserve(self, pk: str, size: int, count: int) -> int:
        """Take `size` sequence numbers from the summary's counter (one atomic UpdateItem,
        which also refreshes updated_at for listing). Returns the first."""
        names = {"#seq": "last_seq", "#n": "messages", "#u": "updated_at", "#l": "list_key"}
        values = {
            ":size": number(size),
            ":count": number(count),
            ":now": number(round(time.time(), 6)),
            ":all": {"S": LIST_KEY},
        }
        update = "ADD #seq :size, #n :count SET #u = :now, #l = :all"
        if self.ttl_days:
            names["#x"], values[":x"] = TTL_ATTRIBUTE, expiry(self.ttl_days)
            update += ", #x = :x"
        answer = self._call(
            "update_item",
            Key=key(pk, SUMMARY_SK),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["last_seq"]["N"]) - size + 1

    def lay_out(
        self, pk: str, first: int, bodies: list[list[Item]], token: str, commit: bool
    ) -> list[Item]:
        """Whole items from `first` on; with `commit`, invisible until the marker at the end."""
        extra: Item = {"w": {"S": token}}
        if commit:
            extra["gen"] = {"S": token}
        if self.ttl_days:
            extra[TTL_ATTRIBUTE] = expiry(self.ttl_days)
        data = [attributes for parts in bodies for attributes in parts]
        items = [{**key(pk, first + i), **attrs, **extra} for i, attrs in enumerate(data)]
        if commit:
            items.append({**key(pk, first + len(data)), "floor": number(first), **extra})
        return items

    def put(self, item: Item, token: str) -> bool:
        """Put unless the key is taken. True also if the item there is this write's own (a
        retry whose first answer was lost)."""
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")
            return True
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise
        found = self._call(
            "get_item", Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True
        ).get("Item")
        return found is not None and found.get("w") == {"S": token}

    def range_free(self, pk: str, low: int, high: int) -> bool:
        answer = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":low": number(low),
                ":high": number(high),
            },
            ProjectionExpression="pk, sk",
            ConsistentRead=True,
            Limit=1,
        )
        return not answer["Items"]

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """One BatchWriteItem (at most 25 requests); unprocessed ones are retried."""
        for attempt in range(_BATCH_TRIES):
            answer = self.client.call_sync("batch_write_item", RequestItems={self.table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self.table, [])
            if not requests:
                return
            time.sleep(random.uniform(0, min(0.05 * 2**attempt, 2.0)))  # a worker thread
        raise ConversationError(f"DynamoDB left {len(requests)} writes unprocessed")

    def take_back(self, items: list[Item], token: str) -> None:
        """Delete whichever of `items` this write (token) did put."""
        for item in items:
            try:
                self._call(
                    "delete_item",
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    ConditionExpression="w = :w",
                    ExpressionAttributeValues={":w": {"S": token}},
                )
            except RequestError as exc:
                if exc.code != CONDITIONAL:
                    raise

    def repair_counter(self, pk: str) -> None:
        """Move the counter past the newest item (items outlived their summary)."""
        newest = self.query(pk, descending=True, limit=1, keys_only=True)["Items"]
        if not newest:
            return
        try:
            self._call(
                "update_item",
                Key=key(pk, SUMMARY_SK),
                UpdateExpression="SET last_seq = :top",
                ConditionExpression="attribute_not_exists(last_seq) OR last_seq < :top",
                ExpressionAttributeValues={":top": number(sequence(newest[0]))},
            )
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise

    def after_save(self, pk: str, floor: int, count: int) -> None:
        self._call(
            "update_item",
            Key=key(pk, SUMMARY_SK),
            UpdateExpression="SET messages = :n",
            ExpressionAttributeValues={":n": number(count)},
        )
        self.delete_keys([k for k in self.keys(pk) if 0 < sequence(k) < floor])

    # -- reading messages --------------------------------------------------------------

    def read(self, pk: str, conversation_id: str, limit: int | None) -> list[Message]:
        """Newest first, page by page, until `limit` messages (None: all) are complete."""
        reader = HistoryReader(time.time(), f"conversation {conversation_id}")
        start: dict[str, Any] | None = None
        while not reader.done:
            page = None if limit is None else limit - len(reader.messages) + reader.missing_parts
            answer = self.query(pk, descending=True, limit=page, start=start)
            for item in answer["Items"]:
                reader.feed(item)
                if limit is not None and len(reader.messages) >= limit:
                    return reader.messages[:limit][::-1]
            start = answer.get("LastEvaluatedKey")
            if start is None:
                break
        reader.finish()
        return reader.messages[::-1]

    def query(
        self,
        pk: str,
        descending: bool = False,
        limit: int | None = None,
        start: dict[str, Any] | None = None,
        keys_only: bool = False,
    ) -> dict[str, Any]:
        """One page of the conversation's message items."""
        params: dict[str, Any] = {
            "KeyConditionExpression": _MESSAGES,
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":zero": number(0)},
            "ScanIndexForward": not descending,
            "ConsistentRead": True,
        }
        if limit is not None:
            params["Limit"] = max(limit, 1)
        if start is not None:
            params["ExclusiveStartKey"] = start
        if keys_only:
            params["ProjectionExpression"] = "pk, sk"
        return self._call("query", **params)

    # -- deleting ----------------------------------------------------------------------

    def keys(self, pk: str, everything: bool = False) -> list[Item]:
        """The keys of the conversation's message items (`everything`: all its items)."""
        values: dict[str, Any] = {":pk": {"S": pk}}
        if not everything:
            values[":zero"] = number(0)
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk" if everything else _MESSAGES,
            "ExpressionAttributeValues": values,
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        keys: list[Item] = []
        while True:
            answer = self._call("query", **params)
            keys += answer["Items"]
            if "LastEvaluatedKey" not in answer:
                return keys
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def delete_keys(self, keys: list[Item]) -> None:
        for i in range(0, len(keys), BATCH):
            self.batch_write([{"DeleteRequest": {"Key": k}} for k in keys[i : i + BATCH]])

    def delete_conversation(self, pk: str) -> None:
        """Every item of the conversation: messages first, the summary (the sequence counter)
        and the metadata last. (The pending mark is a record of its own.)"""
        keys = self.keys(pk, everything=True)
        self.delete_keys([k for k in keys if sequence(k) > 0])
        self.delete_keys([k for k in keys if sequence(k) <= 0])
