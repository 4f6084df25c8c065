"""The DynamoDB backend's records: one item each in the conversations' table (layout: codec).

A write is a PutItem conditioned on the version it replaces (`attribute_not_exists` for a
first write), so two writers never lose an update. Each write carries a random token `w`:
when a write's answer is lost and botocore retries it, the retry fails the condition on our
own write, and the token tells that apart from another writer's. `find` queries one of the
two sparse indexes; indexes are eventually consistent, so callers re-read what they act on.
"""

from __future__ import annotations

import uuid
from typing import Any

from src.clock import SYSTEM_CLOCK, Clock
from src.config import DynamoDBStoreConfig
from src.errors import RecordConflictError
from src.store.dynamodb.client import DynamoDBClient, RequestError
from src.store.dynamodb.codec import (
    DUE_INDEX,
    RECORD_PREFIX,
    RECORD_SK,
    USER_INDEX,
    Item,
    number,
    pack_record,
    unpack_record,
)
from src.store.dynamodb.requests import CONDITIONAL, TableClient, key
from src.store.records import FAR_FUTURE, Record, RecordStore, check_find, check_name


def record_key(kind: str, name: str) -> Item:
    return key(f"{RECORD_PREFIX}{kind}#{name}", RECORD_SK)


class DynamoDBRecords(RecordStore):
    name = "dynamodb"

    def __init__(
        self,
        config: DynamoDBStoreConfig,
        client: DynamoDBClient,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.client = client
        self.requests_config = config
        self.requests = RecordRequests(client, config)
        self.clock = clock

    async def get(self, kind: str, key: str) -> Record | None:
        check_name(kind, key)
        return await self.client.run(self.requests.get, kind, key)

    async def put(self, record: Record) -> Record:
        check_name(record.kind, record.key)
        stored = record.changed(version=record.version + 1, updated_at=self.clock.time())
        await self.client.run(self.requests.put, stored, uuid.uuid4().hex[:16])
        return stored

    async def delete(self, kind: str, key: str, version: int | None = None) -> None:
        check_name(kind, key)
        await self.client.run(self.requests.delete, kind, key, version)

    async def find(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        due_before: float | None = None,
        limit: int = 100,
    ) -> list[Record]:
        check_find(user_id, due_before, limit)
        if user_id is not None:
            condition = "uk = :k"
            values: dict[str, Any] = {":k": {"S": f"{kind}#{user_id}"}}
            params: dict[str, Any] = {"IndexName": USER_INDEX, "ScanIndexForward": False}
        else:
            assert due_before is not None
            condition = "dk = :k AND due <= :t"
            bound = min(due_before, FAR_FUTURE)
            values = {":k": {"S": kind}, ":t": number(bound)}
            params = {"IndexName": DUE_INDEX, "ScanIndexForward": True}
        params.update(KeyConditionExpression=condition, ExpressionAttributeValues=values)
        return await self.client.run(self.requests.query, params, limit)


class RecordRequests(TableClient):
    """Synchronous requests (run in the client's worker threads)."""

    def get(self, kind: str, name: str) -> Record | None:
        item = self._call("get_item", Key=record_key(kind, name), ConsistentRead=True).get("Item")
        return None if item is None else _record(kind, name, item)

    def put(self, record: Record, token: str) -> None:
        item: Item = {
            **record_key(record.kind, record.key),
            **pack_record(record.data),
            "ver": number(record.version),
            "updated_at": number(record.updated_at),
            "w": {"S": token},
        }
        if record.user_id is not None:
            item["uk"] = {"S": f"{record.kind}#{record.user_id}"}
            item["uid"] = number(record.user_id)
        if record.due_at is not None:
            item["dk"] = {"S": record.kind}
            item["due"] = number(record.due_at)  # exact: "due at or before t" must hold at t
        if record.version == 1:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "ver = :v",
                "ExpressionAttributeValues": {":v": number(record.version - 1)},
            }
        try:
            self._call("put_item", Item=item, **condition)
            return
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise
        found = self._call("get_item", Key=record_key(record.kind, record.key), ConsistentRead=True)
        if found.get("Item", {}).get("w") != {"S": token}:  # not a retry of this very write
            raise RecordConflictError(f"{record.kind} record changed meanwhile")

    def delete(self, kind: str, name: str, version: int | None) -> None:
        params: dict[str, Any] = {"Key": record_key(kind, name)}
        if version is not None:
            params["ConditionExpression"] = "attribute_not_exists(pk) OR ver = :v"
            params["ExpressionAttributeValues"] = {":v": number(version)}
        try:
            self._call("delete_item", **params)
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise
            raise RecordConflictError(f"{kind} record changed meanwhile") from None

    def query(self, params: dict[str, Any], limit: int) -> list[Record]:
        found: list[Record] = []
        while len(found) < limit:
            answer = self._call("query", Limit=limit - len(found), **params)
            for item in answer["Items"]:
                kind, _, name = item["pk"]["S"][len(RECORD_PREFIX) :].partition("#")
                found.append(_record(kind, name, item))
            if "LastEvaluatedKey" not in answer:
                break
            params = {**params, "ExclusiveStartKey": answer["LastEvaluatedKey"]}
        return found


def _record(kind: str, name: str, item: Item) -> Record:
    return Record(
        kind,
        name,
        unpack_record(item, 0.0),
        int(item["ver"]["N"]),
        int(item["uid"]["N"]) if "uid" in item else None,
        float(item["due"]["N"]) if "due" in item else None,
        float(item["updated_at"]["N"]),
    )
