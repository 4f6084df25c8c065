"""The README's "Webhook and replicas" IAM policy allows exactly the SQS calls the bot makes,
and its DynamoDB statement is the one of "DynamoDB store"."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(title)
    end = re.compile(r"^## ", re.M).search(text, start + 5)
    return text[start : end.start() if end else len(text)]


def policy(text: str) -> dict[str, Any]:
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert isinstance(data, dict)
    return data


def statement(data: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in data["Statement"] if s["Sid"] == sid)


def sqs_calls() -> set[str]:
    """The SQS operations src/queue/sqs.py sends, as IAM actions (a batch call needs the
    single call's action)."""
    source = (ROOT / "src" / "queue" / "sqs.py").read_text(encoding="utf-8")
    names = set(re.findall(r'_call\(\s*"([a-z_]+)"', source))
    assert names, "no SQS calls found"
    return {
        "sqs:" + "".join(part.title() for part in name.removesuffix("_batch").split("_"))
        for name in names
    }


def test_the_queue_statement_allows_exactly_what_the_bot_calls() -> None:
    replicas = policy(section("### The AWS side"))
    updates = statement(replicas, "AssistantUpdates")
    assert set(updates["Action"]) == sqs_calls()
    assert updates["Resource"].endswith(":assistant-updates.fifo")  # not the dead-letter queue


def test_the_table_statement_is_the_dynamodb_store_one() -> None:
    replicas = statement(policy(section("### The AWS side")), "AssistantConversations")
    store = statement(policy(section("### DynamoDB store")), "AssistantConversations")
    assert sorted(replicas["Action"]) == sorted(store["Action"])
    assert replicas["Resource"] == store["Resource"]
