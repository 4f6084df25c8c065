"""The README's DynamoDB section works as written: its `aws dynamodb create-table` command
makes a table the store accepts, and its IAM policy allows exactly the calls the store makes."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from src.config import DynamoDBStoreConfig, StoreConfig
from src.conversation import settings
from src.conversation.message import Message
from src.store import InboxItem, Storage, create_storage
from src.store.dynamodb.codec import TTL_ATTRIBUTE
from src.store.dynamodb.table import table_definition
from tests.peers.dynamodb import DynamoDBProxy, raw_client, shared_endpoint, use_endpoint

README = Path(__file__).resolve().parents[2] / "README.md"
TABLE = "assistant-conversations"
_FLAGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--table-name": ("TableName", str),
    "--billing-mode": ("BillingMode", str),
    "--attribute-definitions": ("AttributeDefinitions", json.loads),
    "--key-schema": ("KeySchema", json.loads),
    "--global-secondary-indexes": ("GlobalSecondaryIndexes", json.loads),
}


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### DynamoDB store\n")
    end = re.compile(r"^##+ ", re.M).search(text, start + 5)
    return text[start : end.start() if end else len(text)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def create_table_params() -> dict[str, Any]:
    script = next(b for b in blocks("bash") if "create-table" in b)
    command = script.split("aws dynamodb create-table", 1)[1].split("\naws ", 1)[0]
    words = shlex.split(command.replace("\\\n", " "))
    pairs = zip(words[::2], words[1::2], strict=True)
    return {_FLAGS[flag][0]: _FLAGS[flag][1](value) for flag, value in pairs}


def policy() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(next(b for b in blocks("json") if "dynamodb:" in b))
    return document


def test_the_create_table_command_is_the_table_definition() -> None:
    assert create_table_params() == table_definition(TABLE)


def test_the_ttl_command_names_the_ttl_attribute() -> None:
    assert f"AttributeName={TTL_ATTRIBUTE}" in next(
        b for b in blocks("bash") if "create-table" in b
    )


def test_the_policy_names_the_table_and_its_indexes() -> None:
    (statement,) = policy()["Statement"]
    assert statement["Resource"] == [
        f"arn:aws:dynamodb:REGION:ACCOUNT_ID:table/{TABLE}",
        f"arn:aws:dynamodb:REGION:ACCOUNT_ID:table/{TABLE}/index/*",
    ]


async def test_the_policy_allows_exactly_what_the_store_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = shared_endpoint("moto")
    use_endpoint(monkeypatch, endpoint)
    params = {**create_table_params(), "TableName": f"readme-{uuid.uuid4().hex[:12]}"}
    await asyncio.to_thread(lambda: raw_client(endpoint).create_table(**params))

    with DynamoDBProxy(endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        config = DynamoDBStoreConfig(table=params["TableName"], ttl_days=30)
        storage = create_storage(StoreConfig(type="dynamodb", dynamodb=config))
        try:  # create_table: false, as in production
            await exercise(storage)
        finally:
            await storage.close()
    used = {f"dynamodb:{operation}" for operation in proxy.seen}
    (statement,) = policy()["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == used


async def exercise(storage: Storage) -> None:
    """Every storage operation the bot and --check use (the first open migrates: one Scan)."""
    await storage.open()
    await storage.ping()
    store: Any = storage.conversations  # the backend's own describe and bulk import too
    await store.describe()
    await store.append_messages("c", [Message(role="user", content="hi")])
    await store.append_messages("c", [Message(role="user", content=f"m{i}") for i in range(30)])
    await store.save_conversation("d", [Message(role="user", content="saved")])
    await store.load_recent("c", 5)
    await store.load_recent("c", None)
    await settings.change(storage.records, "c", lambda data: data.update(agent="assistant"))
    await settings.load(storage.records, "c")
    item = InboxItem(update_id=1, kind="text", text="hi")
    await storage.inbox.accept("c", item)
    await storage.inbox.pending()
    await storage.inbox.done("c", 1)
    await storage.records.find("reminder", user_id=1)
    await settings.forget(storage.records, "c")
    await store.list_conversations()
    await store.delete_conversation("c")
