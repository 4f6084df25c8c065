"""GET /metrics: Prometheus text that parses, and counters that move when things happen.

Metrics live in prometheus-client's default registry for the whole test process, so every
test compares values before and after what it does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from src.conversation.message import Message
from src.errors import ConversationError, ToolError
from src.ops import metrics
from src.ops.health import HealthServer
from src.store.file.conversations import FileStore
from src.store.metered import MeteredStore
from src.tools.base import Tool, ToolResult
from src.tools.registry import ToolRegistry
from tests.harness import OWNER, BotRunner, free_port
from tests.peers.openai_server import Reply

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            content_type = response.headers["Content-Type"]
            text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):  # raises on anything not Prometheus
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_turn_with_a_tool_call_moves_the_counters(bots: BotRunner) -> None:
    await bots.start()
    _, before = await scrape(bots.health_port)
    bots.model.enqueue(Reply.tool("get_current_time", timezone="UTC"), Reply(text="Noon."))
    bots.telegram.push_message(OWNER, "what time is it?")
    await bots.telegram.wait_for_messages(OWNER, 1)
    content_type, after = await scrape(bots.health_port)

    assert content_type.startswith("text/plain")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = bots.model.chat_requests()
    assert len(requests) == 2
    model = "test-model"
    assert moved("assistant_model_tokens_total", model=model, type="input") >= 2
    assert moved("assistant_model_tokens_total", model=model, type="output") >= 2
    assert moved("assistant_tool_calls_total", tool="get_current_time", outcome="ok") == 1
    store_calls = "assistant_store_operation_duration_seconds_count"
    # The user message with the tool call, then the tool's result, then the answer (three
    # appends); the two model requests' costs counted in the conversation's record.
    assert moved(store_calls, backend="file", operation="append_messages") == 3
    assert moved(store_calls, backend="file", operation="records_update") >= 2
    assert moved(store_calls, backend="file", operation="load_recent") >= 1
    assert moved("assistant_store_errors_total", backend="file", operation="append_messages") == 0
    # Defined and exported from the start, whether or not anything happened yet.
    for outcome in metrics.TURN_OUTCOMES:
        assert ("assistant_turns_total", frozenset({("outcome", outcome)})) in after
    assert ("assistant_updates_received_total", frozenset()) in after
    assert ("assistant_allowlist_refusals_total", frozenset()) in after
    assert ("assistant_turn_duration_seconds_count", frozenset()) in after


async def test_channel_counters_are_served() -> None:
    """record_update / record_refusal / record_turn are what the Telegram channel calls."""

    async def probe() -> dict[str, object]:
        return {"ok": True}

    server = HealthServer("127.0.0.1", free_port(), probe)
    port = await server.start()
    try:
        _, before = await scrape(port)
        metrics.record_update(3)
        metrics.record_update(0)  # an empty getUpdates batch counts nothing
        metrics.record_refusal()
        metrics.record_turn(metrics.TURN_OK, 1.5)
        metrics.record_turn(metrics.TURN_MODEL_TIMEOUT, 60.0)
        metrics.record_turn("something odd", 0.1)  # unknown outcomes count as failed
        _, after = await scrape(port)
    finally:
        await server.stop()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("assistant_updates_received_total") == 3
    assert moved("assistant_allowlist_refusals_total") == 1
    assert moved("assistant_turns_total", outcome="ok") == 1
    assert moved("assistant_turns_total", outcome="model_timeout") == 1
    assert moved("assistant_turns_total", outcome="failed") == 1
    assert ("assistant_turns_total", frozenset({("outcome", "something odd")})) not in after
    assert moved("assistant_turn_duration_seconds_count") == 3
    assert moved("assistant_turn_duration_seconds_sum") == pytest.approx(61.6)
    assert moved("assistant_turn_duration_seconds_bucket", le="2.0") == 2


class Fine(Tool):
    name = "metric_fine"
    description = "answers"

    def __init__(self) -> None:
        self.parameters = {"type": "object", "properties": {"n": {"type": "integer"}}}

    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult:
        return "fine"


class Failing(Fine):
    name = "metric_failing"

    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult:
        raise ToolError("the service said no")


class ErrorResult(Fine):
    name = "metric_error_result"

    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult:
        return ToolResult("not found", is_error=True)


class Crashing(Fine):
    name = "metric_crashing"

    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult:
        raise RuntimeError("bug")


class Hanging(Fine):
    name = "metric_hanging"
    timeout_s = 0.05

    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult:
        await asyncio.sleep(10)
        return "late"


@pytest.mark.parametrize(
    ("tool", "arguments", "label", "outcome"),
    [
        ("metric_fine", '{"n": 1}', "metric_fine", "ok"),
        ("metric_fine", '{"n": "one"}', "metric_fine", "invalid_arguments"),
        ("metric_fine", "not json", "metric_fine", "invalid_arguments"),
        ("metric_failing", "{}", "metric_failing", "error"),
        ("metric_error_result", "{}", "metric_error_result", "error"),
        ("metric_crashing", "{}", "metric_crashing", "crashed"),
        ("metric_hanging", "{}", "metric_hanging", "timeout"),
        ("made_up_by_the_model", "{}", "unknown", "not_found"),
    ],
)
async def test_tool_calls_are_counted_by_tool_and_outcome(
    tool: str, arguments: str, label: str, outcome: str
) -> None:
    registry = ToolRegistry()
    for cls in (Fine, Failing, ErrorResult, Crashing, Hanging):
        registry.register(cls())
    before = sample("assistant_tool_calls_total", tool=label, outcome=outcome)
    await registry.execute(tool, arguments)
    assert sample("assistant_tool_calls_total", tool=label, outcome=outcome) == before + 1
    # A made-up name never becomes a label of its own.
    assert sample("assistant_tool_calls_total", tool="made_up_by_the_model", outcome=outcome) == 0


async def test_store_latency_and_failures_are_recorded(tmp_path: Path) -> None:
    directory = tmp_path / "conversations"
    store = MeteredStore(FileStore(directory))
    assert store.directory == directory  # the backend's own attributes pass through
    assert store.name == "file"

    def count(operation: str) -> float:
        return sample(
            "assistant_store_operation_duration_seconds_count",
            backend="file",
            operation=operation,
        )

    def errors(operation: str) -> float:
        return sample("assistant_store_errors_total", backend="file", operation=operation)

    appended, failed = count("append_messages"), errors("append_messages")
    await store.open()
    await store.append_messages("c1", [Message(role="user", content="hi")])
    assert [m.content for m in await store.load_recent("c1", None)] == ["hi"]
    assert count("append_messages") == appended + 1
    assert errors("append_messages") == failed

    directory.rename(tmp_path / "moved")
    directory.write_text("not a directory")  # every write now fails
    with pytest.raises(ConversationError):
        await store.append_messages("c2", [Message(role="user", content="lost?")])
    assert count("append_messages") == appended + 2
    assert errors("append_messages") == failed + 1
    with pytest.raises(ConversationError):
        await store.ping()
    assert errors("ping") >= 1


async def test_a_cancelled_store_operation_is_neither_a_success_nor_a_failure(
    tmp_path: Path,
) -> None:
    store = MeteredStore(FileStore(tmp_path / "conversations"))
    await store.open()
    labels = {"backend": "file", "operation": "append_messages"}
    before = (
        sample("assistant_store_operation_duration_seconds_count", **labels),
        sample("assistant_store_errors_total", **labels),
    )
    task = asyncio.create_task(store.append_messages("c", [Message(role="user", content="x")]))
    await asyncio.sleep(0)  # the append has started: it waits for its worker thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = (
        sample("assistant_store_operation_duration_seconds_count", **labels),
        sample("assistant_store_errors_total", **labels),
    )
    assert after == before
