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
from src.store.dynamodb.codec import INDEX_NAME, TTL_ATTRIBUTE

logger = logging.getLogger(__name__)

Call = Callable[..., dict[str, Any]]  # call(operation, **params) -> response

_KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
_INDEX_KEYS = [
    {"AttributeName": "list_key", "KeyType": "HASH"},
    {"AttributeName": "updated_at", "KeyType": "RANGE"},
]
_USABLE = ("ACTIVE", "UPDATING")


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable parameters: on-demand, keys pk/sk, the sparse listing index."""
    return {
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "list_key", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "N"},
        ],
        "KeySchema": _KEYS,
        "GlobalSecondaryIndexes": [
            {
                "IndexName": INDEX_NAME,
                "KeySchema": _INDEX_KEYS,
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def prepare_table(call: Call, table: str, create: bool, ttl_days: int) -> None:
    """Create the table if allowed and missing; then check that it fits this store."""
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


def schema_problems(description: dict[str, Any]) -> list[str]:
    problems = []
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    if _key_schema(description["KeySchema"]) != _key_schema(_KEYS) or (
        types.get("pk"),
        types.get("sk"),
    ) != ("S", "N"):
        problems.append("its key must be pk (string, partition) and sk (number, sort)")
    index = next(
        (i for i in description.get("GlobalSecondaryIndexes", []) if i["IndexName"] == INDEX_NAME),
        None,
    )
    if index is None:
        problems.append(f"the global secondary index {INDEX_NAME} is missing")
    elif _key_schema(index["KeySchema"]) != _key_schema(_INDEX_KEYS) or (
        types.get("list_key"),
        types.get("updated_at"),
    ) != ("S", "N"):
        problems.append(f"index {INDEX_NAME} must have list_key (string) and updated_at (number)")
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
