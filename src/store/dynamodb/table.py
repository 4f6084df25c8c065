"""The DynamoDB table: its definition, creating it for development, checking it, its status.

The README's `aws dynamodb create-table` command creates exactly `table_definition()`
(a test compares them). Functions here are synchronous; the store runs them in a thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from src.errors import ConversationError
from src.store.dynamodb.client import RequestError
from src.store.dynamodb.codec import DUE_INDEX, LISTING_INDEX, TTL_ATTRIBUTE, USER_INDEX

logger = logging.getLogger(__name__)

Call = Callable[..., dict[str, Any]]  # call(operation, **params) -> response

_KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
_TYPES = {
    "pk": "S",
    "sk": "N",
    "list_key": "S",
    "updated_at": "N",
    "uk": "S",
    "dk": "S",
    "due": "N",
}
# name -> (partition attribute, sort attribute, projection). Sparse: an item is in an index
# only when it has both attributes.
INDEXES = {
    LISTING_INDEX: ("list_key", "updated_at", "KEYS_ONLY"),  # conversations, newest first
    USER_INDEX: ("uk", "updated_at", "ALL"),  # records by kind and user
    DUE_INDEX: ("dk", "due", "ALL"),  # records by kind and due time
}
_USABLE = ("ACTIVE", "UPDATING")


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable parameters: on-demand, keys pk/sk, the three sparse indexes."""
    return {
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in _TYPES.items()
        ],
        "KeySchema": _KEYS,
        "GlobalSecondaryIndexes": [_index(name) for name in INDEXES],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _index(name: str) -> dict[str, Any]:
    partition, sort, projection = INDEXES[name]
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": projection},
    }


def prepare_table(call: Call, table: str, create: bool, ttl_days: int) -> None:
    """Create the table if allowed and missing; add the indexes a table made by an earlier
    version lacks; then check that it fits this store."""
    try:
        description = call("describe_table", TableName=table)["Table"]
    except RequestError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        if not create:
            raise ConversationError(
                f"DynamoDB table {table} does not exist (create it as the README shows, "
                "or set store.dynamodb.create_table: true for development)"
            ) from None
        description = _create(call, table, ttl_days)
    keys = schema_problems(description)[:1] if _keys_wrong(description) else []
    if keys:  # never add indexes to a table of another layout
        raise ConversationError(f"DynamoDB table {table} does not fit: {keys[0]}")
    if missing_indexes(description):
        description = add_indexes(call, table, description)
    problems = schema_problems(description)
    if problems:
        raise ConversationError(f"DynamoDB table {table} does not fit: {'; '.join(problems)}")
    if ttl_days and create is False and ttl_status(call, table) not in ("ENABLED", "ENABLING"):
        logger.warning(
            "store: TTL is not enabled on table %s (attribute %s): items are given an expiry "
            "and ignored once expired, but DynamoDB will not delete them",
            table,
            TTL_ATTRIBUTE,
        )


def missing_indexes(description: dict[str, Any]) -> list[str]:
    present = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
    return [name for name in INDEXES if name not in present]


def add_indexes(call: Call, table: str, description: dict[str, Any]) -> dict[str, Any]:
    """The migration of a table made before the records facility: add its two indexes, one
    UpdateTable each (DynamoDB's rule), and wait until they are active."""
    for name in missing_indexes(description):
        partition, sort, _ = INDEXES[name]
        logger.warning("store: adding index %s to DynamoDB table %s (once)", name, table)
        try:
            call(
                "update_table",
                TableName=table,
                # The table's definitions and the new index's: moto replaces the definitions
                # with these (DynamoDB merges them), so none may be left out.
                AttributeDefinitions=_definitions(description, partition, sort),
                GlobalSecondaryIndexUpdates=[{"Create": _index(name)}],
            )
        except RequestError as exc:
            if exc.code not in ("ResourceInUseException", "ValidationException"):
                raise ConversationError(
                    f"DynamoDB table {table} lacks index {name} and it cannot be added "
                    f"({exc}); add it as the README's update-table command shows"
                ) from exc
        description = _wait_active(call, table, timeout_s=900.0)
    return description


def _definitions(description: dict[str, Any], *names: str) -> list[dict[str, str]]:
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    types.update((name, _TYPES[name]) for name in names)
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in types.items()]


def _keys_wrong(description: dict[str, Any]) -> bool:
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    wrong_types = (types.get("pk"), types.get("sk")) != ("S", "N")
    return _key_schema(description["KeySchema"]) != _key_schema(_KEYS) or wrong_types


def schema_problems(description: dict[str, Any]) -> list[str]:
    problems = []
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    if _key_schema(description["KeySchema"]) != _key_schema(_KEYS) or (
        types.get("pk"),
        types.get("sk"),
    ) != ("S", "N"):
        problems.append("its key must be pk (string, partition) and sk (number, sort)")
    found = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes", [])}
    for name, (partition, sort, _) in INDEXES.items():
        index = found.get(name)
        if index is None:
            problems.append(f"the global secondary index {name} is missing")
        elif _key_schema(index["KeySchema"]) != _key_schema(_index(name)["KeySchema"]) or (
            types.get(partition),
            types.get(sort),
        ) != (_TYPES[partition], _TYPES[sort]):
            problems.append(
                f"index {name} must have {partition} ({_TYPES[partition]}) "
                f"and {sort} ({_TYPES[sort]})"
            )
    if description.get("TableStatus") not in (*_USABLE, "CREATING"):
        problems.append(f"it is {description.get('TableStatus')}")
    return problems


def ttl_status(call: Call, table: str) -> str:
    """ENABLED, DISABLED, ... or UNKNOWN when the endpoint has no TTL API (dynalite)."""
    try:
        answer = call("describe_time_to_live", TableName=table)
    except RequestError:
        return "UNKNOWN"
    ttl = answer.get("TimeToLiveDescription", {})
    if ttl.get("AttributeName") not in (None, TTL_ATTRIBUTE):
        return f"on {ttl['AttributeName']}, not {TTL_ATTRIBUTE}"
    return str(ttl.get("TimeToLiveStatus", "DISABLED"))


def check_usable(call: Call, table: str) -> dict[str, Any]:
    """The table description; ConversationError unless reads and writes would work now."""
    description: dict[str, Any] = call("describe_table", TableName=table)["Table"]
    status = description.get("TableStatus")
    if status not in _USABLE:
        raise ConversationError(f"DynamoDB table {table} is {status}")
    return description


def describe(call: Call, table: str, region: str) -> str:
    """One line for --check: status, size, billing, TTL."""
    description = check_usable(call, table)
    items = description.get("ItemCount", 0)
    size_mb = description.get("TableSizeBytes", 0) / 1e6
    billing = description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    mode = "on-demand" if billing == "PAY_PER_REQUEST" else "provisioned"
    return (
        f"dynamodb table {table} ({region}): {description['TableStatus']}, {mode}, "
        f"about {items} items / {size_mb:.1f} MB, TTL {ttl_status(call, table).lower()}"
    )


def _create(call: Call, table: str, ttl_days: int) -> dict[str, Any]:
    try:
        call("create_table", **table_definition(table))
        logger.info("store: created DynamoDB table %s", table)
    except RequestError as exc:
        if exc.code != "ResourceInUseException":  # not: created by another process meanwhile
            raise
    description = _wait_active(call, table)
    if ttl_days:
        spec = {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        try:
            call("update_time_to_live", TableName=table, TimeToLiveSpecification=spec)
        except RequestError as exc:
            logger.warning("store: cannot enable TTL on table %s: %s", table, exc)
    return description


def _wait_active(call: Call, table: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        description: dict[str, Any] = call("describe_table", TableName=table)["Table"]
        waiting = [i for i in description.get("GlobalSecondaryIndexes", []) if _index_busy(i)]
        if description.get("TableStatus") == "ACTIVE" and not waiting:
            return description
        if time.monotonic() > deadline:
            raise ConversationError(f"DynamoDB table {table} did not become active in time")
        time.sleep(0.5)  # a worker thread, never the event loop


def _index_busy(index: dict[str, Any]) -> bool:
    return index.get("IndexStatus", "ACTIVE") != "ACTIVE"


def _key_schema(keys: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in keys)
