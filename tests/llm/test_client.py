"""LLMClient against the local OpenAI-compatible server: what it sends, how it folds the
stream, and how each failure reaches the agent."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from src.config import LLMConfig
from src.errors import (
    LLMAuthError,
    LLMContentRefusedError,
    LLMError,
    LLMRateLimitedError,
    LLMRequestRefusedError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from src.llm.client import LLMClient, ToolCall, Usage
from tests.peers.openai_server import FakeOpenAI, Reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": "test tool",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    for name in ("search", "lookup")
]


def config(base_url: str, **overrides: Any) -> LLMConfig:
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": SecretStr("sk-test"),
        "model": "test-model",
        "timeout_s": 5,
        "max_retries": 0,
    }
    return LLMConfig(**{**values, **overrides})


@pytest.fixture
async def client(model: FakeOpenAI) -> AsyncIterator[LLMClient]:
    client = LLMClient(config(model.base_url, temperature=0.3, max_output_tokens=500))
    yield client
    await client.aclose()


async def test_text_streams_in_order_with_usage_and_the_request_as_sent(
    model: FakeOpenAI, client: LLMClient
) -> None:
    model.chunk_chars = 3
    model.enqueue(Reply(text="Hello there, «world» 😀"))
    deltas: list[str] = []

    async def on_delta(text: str) -> None:
        deltas.append(text)

    history = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    answer = await client.chat(history, TOOLS, tool_choice="auto", on_delta=on_delta)

    assert answer.text == "Hello there, «world» 😀" == "".join(deltas)
    assert len(deltas) > 5 and answer.tool_calls == []
    assert answer.finish_reason == "stop" and answer.model == "test-model"
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    sent = model.last_request()
    assert sent["messages"] == history and sent["tools"] == TOOLS
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["temperature"] == 0.3 and sent["max_completion_tokens"] == 500
    assert sent["tool_choice"] == "auto"
    assert not model.invalid_requests


async def test_parallel_tool_calls_streamed_in_pieces_come_back_whole(
    model: FakeOpenAI, client: LLMClient
) -> None:
    model.chunk_chars = 2
    model.enqueue(Reply(tool_calls=[("search", {"q": "first query"}), ("lookup", {"q": "é"})]))
    answer = await client.chat([{"role": "user", "content": "go"}], TOOLS)
    assert [(c.name, json.loads(c.arguments)) for c in answer.tool_calls] == [
        ("search", {"q": "first query"}),
        ("lookup", {"q": "é"}),
    ]
    assert all(isinstance(c, ToolCall) and c.id for c in answer.tool_calls)
    assert len({c.id for c in answer.tool_calls}) == 2
    assert answer.finish_reason == "tool_calls" and answer.text == ""


async def test_the_sdk_retries_a_server_error(model: FakeOpenAI) -> None:
    client = LLMClient(config(model.base_url, max_retries=2))
    try:
        model.enqueue(Reply.error(503), Reply(text="fine now"))
        answer = await client.chat([{"role": "user", "content": "hi"}])
    finally:
        await client.aclose()
    assert answer.text == "fine now"
    assert len(model.chat_requests()) == 2


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (Reply.error(500), LLMUnavailableError, "500"),
        (Reply.error(503), LLMUnavailableError, "503"),
        (Reply.error(429), LLMRateLimitedError, "429"),
        (Reply.error(400, "bad things"), LLMRequestRefusedError, r"refused the request \(400"),
        (Reply.error(404, "no such model"), LLMRequestRefusedError, "no such model"),
        (Reply.error(401), LLMAuthError, "401"),
        (Reply.error(403), LLMAuthError, "403"),
        (
            Reply.error(400, "flagged", code="content_policy_violation"),
            LLMContentRefusedError,
            "content policy",
        ),
        (Reply.error(400, "filtered", code="content_filter"), LLMContentRefusedError, "400"),
        (Reply.content_filtered("par"), LLMContentRefusedError, "content filter"),
        (Reply(text="late", delay_s=2.0), LLMTimeoutError, "in time"),
    ],
)
async def test_failures_become_llm_errors(
    model: FakeOpenAI, reply: Reply, error: type[LLMError], text: str
) -> None:
    client = LLMClient(config(model.base_url, timeout_s=0.5))
    try:
        model.enqueue(reply)
        with pytest.raises(error, match=text) as caught:
            await client.chat([{"role": "user", "content": "hi"}])
    finally:
        await client.aclose()
    assert type(caught.value) is error


async def test_refused_credentials_are_logged_critical_once(
    model: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    client = LLMClient(config(model.base_url))
    try:
        model.enqueue(Reply.error(401), Reply.error(401))
        for _ in range(2):
            with pytest.raises(LLMAuthError):
                await client.chat([{"role": "user", "content": "hi"}])
    finally:
        await client.aclose()
    critical = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(critical) == 1 and "API key" in critical[0].getMessage()


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = LLMClient(config(f"http://127.0.0.1:{port}/v1"))
    try:
        with pytest.raises(LLMUnavailableError):
            await client.chat([{"role": "user", "content": "hi"}])
    finally:
        await client.aclose()


def test_usage_adds_up() -> None:
    assert Usage(1, 2) + Usage(10, 20) == Usage(11, 22)
