"""The DynamoDB backend's records: one item each in the conversations' table (layout: codec).

A write is a PutItem conditioned on the version it replaces (`attribute_not_exists` for a
first write), so two writers never lose an update. Each write carries a random token `w`:
when a write's answer is lost and botocore retries it, the retry fails the condition on our
own write, and the token tells that apart from another writer's. `find` queries one of the
two sparse indexes; indexes are eventually consistent, so callers re-read what they act on.
`add` is one UpdateItem that adds to counter attributes in place: nothing to conflict with.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from src.clock import SYSTEM_CLOCK, Clock
from src.config import DynamoDBStoreConfig
from src.errors import RecordConflictError
from src.store.dynamodb.client import DynamoDBClient, RequestError
from src.store.dynamodb.codec import (
    COUNTER_PREFIX,
    DUE_INDEX,
    RECORD_PREFIX,
    RECORD_SK,
    USER_INDEX,
    Item,
    number,
    pack_record,
    unpack_counters,
    unpack_record,
)
from src.store.dynamodb.requests import CONDITIONAL, TableClient, key
from src.store.records import (
    FAR_FUTURE,
    Record,
    RecordStore,
    check_amounts,
    check_find,
    check_name,
)


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

    async def add(
        self, kind: str, key: str, amounts: Mapping[str, int], *, user_id: int | None = None
    ) -> Record:
        """One UpdateItem: ADD to each counter's attribute and to `ver`, SET `updated_at`
        (and the user index's attributes when `user_id` is given), returning the new item.
        No read and no condition on the version, so two adds at once never conflict.

        Each add carries a random token `w`, and the write is conditioned on the item not
        holding that token already: when the answer is lost and botocore retries, the retry
        fails that condition, and the store reads the item back instead of adding twice.
        The window left: if another write lands between the lost answer and the retry, `w`
        holds its token, so the retry adds again (counted twice). Retries come within
        seconds, so this takes a lost answer and a second writer on the same record at once.
        """
        check_name(kind, key)
        checked = check_amounts(amounts)
        token = uuid.uuid4().hex[:16]
        now = self.clock.time()
        return await self.client.run(self.requests.add, kind, key, checked, user_id, now, token)

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

    def add(
        self,
        kind: str,
        name: str,
        amounts: dict[str, int],
        user_id: int | None,
        now: float,
        token: str,
    ) -> Record:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":one": number(1), ":now": number(now), ":w": {"S": token}}
        adds, sets = ["ver :one"], ["updated_at = :now", "w = :w"]
        for i, (counter, amount) in enumerate(amounts.items()):
            names[f"#c{i}"] = COUNTER_PREFIX + counter
            values[f":c{i}"] = number(amount)
            adds.append(f"#c{i} :c{i}")
        if user_id is not None:  # as `put` writes them
            values[":uk"], values[":uid"] = {"S": f"{kind}#{user_id}"}, number(user_id)
            sets += ["uk = :uk", "uid = :uid"]
        params: dict[str, Any] = {
            "Key": record_key(kind, name),
            "UpdateExpression": f"ADD {', '.join(adds)} SET {', '.join(sets)}",
            "ConditionExpression": "attribute_not_exists(w) OR w <> :w",
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            params["ExpressionAttributeNames"] = names
        try:
            answer = self._call("update_item", **params)
        except RequestError as exc:
            if exc.code != CONDITIONAL:
                raise
            # The item holds this very add's token: an earlier attempt of this request was
            # applied and its answer lost. The record as it now stands (none: deleted since).
            return self.get(kind, name) or Record(kind, name)
        return _record(kind, name, answer["Attributes"])

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
        unpack_record(item, 0.0) if "d" in item else unpack_counters(item),
        int(item["ver"]["N"]),
        int(item["uid"]["N"]) if "uid" in item else None,
        float(item["due"]["N"]) if "due" in item else None,
        float(item["updated_at"]["N"]),
    )
