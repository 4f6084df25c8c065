"""Self-test of the fake OpenAI server, driven by the real ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionUserMessageParam

from tests.peers.openai_server import ChatRequestInvalid, FakeOpenAI, Reply, validate_chat_request
from tests.peers.serve import wait_until

KEY = "sk-test"
MODEL = "test-model"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5.0
    ) as c:
        yield c


def user(text: str) -> ChatCompletionUserMessageParam:
    return {"role": "user", "content": text}


async def test_streaming_text_with_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice over, to be sure."
    fake.enqueue(Reply(text=text))
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[user("hello there")],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(parts) == text
    assert len(parts) > 1
    assert usage is not None
    assert usage.prompt_tokens == max(1, len("hello there") // 4)
    assert usage.completion_tokens == len(text) // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert fake.last_request()["stream"] is True
    assert fake.authorization_headers == [f"Bearer {KEY}"]


async def test_streamed_tool_call_accumulates(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Reply.tool("get_weather", city="Amsterdam", days=[1, 2, 3], unit="celsius"))
    stream = await client.chat.completions.create(
        model=MODEL, messages=[user("weather?")], tools=TOOLS, stream=True
    )
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    async for chunk in stream:
        state.handle_chunk(chunk)
    choice = state.get_final_completion().choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id.startswith("call_")
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {
        "city": "Amsterdam",
        "days": [1, 2, 3],
        "unit": "celsius",
    }
    # Re-sending the accumulated message (it carries SDK extras such as "parsed") is valid.
    messages: list[Any] = [
        user("weather?"),
        choice.message,
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
    ]
    await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert fake.invalid_requests == []
    assert fake.last_request()["messages"][1]["tool_calls"][0]["id"] == calls[0].id


async def test_tool_round_trip_is_valid(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Reply.tool("get_weather", city="Oslo"), Reply(text="Cold."))
    messages: list[Any] = [user("weather in Oslo?")]
    first = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    message = first.choices[0].message
    messages.append(message)  # the SDK re-serialises the response model
    for call in message.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "-5C"})
    second = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "Cold."
    assert fake.invalid_requests == []


async def test_non_streaming_echo(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "be nice"}, user("ping")]
    )
    assert completion.choices[0].message.content == "echo: ping"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens >= 2
    assert fake.request_count == 1


async def test_handler_and_models(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.set_handler(lambda body: Reply(text=f"{len(body['messages'])} messages"))
    completion = await client.chat.completions.create(model=MODEL, messages=[user("a")])
    assert completion.choices[0].message.content == "1 messages"
    models = await client.models.list()
    assert [m.id for m in models.data] == ["test-model"]


async def test_injected_500(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Reply.error(500, "boom"))
    with pytest.raises(openai.InternalServerError, match="boom"):
        await client.chat.completions.create(model=MODEL, messages=[user("x")], stream=True)


async def test_delay_beyond_client_timeout(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Reply(text="late", delay_s=3.0))
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model=MODEL, messages=[user("x")], timeout=0.2)
    await wait_until(lambda: fake.in_flight == 0, timeout=2.0)  # noticed the disconnect


async def test_invalid_history_rejected(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    messages: list[Any] = [
        user("hi"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        user("again"),
    ]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert "call_1" in info.value.message
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "invalid_request_error"
    [invalid] = fake.invalid_requests
    assert "must be followed by tool messages" in invalid.reason
    assert invalid.body["messages"][1]["tool_calls"] == [call]


async def test_two_concurrent_requests(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Reply(text="one", delay_s=0.3), Reply(text="two", delay_s=0.3))
    results = await asyncio.gather(
        *(client.chat.completions.create(model=MODEL, messages=[user(str(i))]) for i in range(2))
    )
    assert sorted(r.choices[0].message.content or "" for r in results) == ["one", "two"]
    assert fake.max_in_flight == 2
    assert fake.in_flight == 0
    await fake.wait_for_requests(2, timeout=1.0)


async def test_auth_required(fake: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError):
            await c.chat.completions.create(model=MODEL, messages=[user("x")])
    assert fake.authorization_headers == ["Bearer wrong"]
    assert fake.invalid_requests == []


async def test_stop_does_not_hang_on_hanging_request() -> None:
    fake = FakeOpenAI(chunk_chars=5)
    base_url = fake.start()
    fake.enqueue(Reply(text="slow stream", chunk_delay_s=0.05), Reply(hang=True))
    async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as c:
        stream = await c.chat.completions.create(model=MODEL, messages=[user("a")], stream=True)
        assert (
            "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
            == "slow stream"
        )
        pending = asyncio.ensure_future(
            c.chat.completions.create(model=MODEL, messages=[user("b")])
        )
        await fake.wait_for_requests(2)
        # A hung reply never ends by itself: stop() returning at all shows it did not wait.
        await asyncio.wait_for(asyncio.to_thread(fake.stop), 30)  # 30 s: only a hang guard
        with pytest.raises(openai.APIConnectionError):
            await pending


async def test_client_abandons_stream_quietly(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(Reply(text="x" * 400, chunk_delay_s=0.02), Reply(text="y" * 400, chunk_delay_s=1))
    stream = await client.chat.completions.create(model=MODEL, messages=[user("a")], stream=True)
    async for _ in stream:
        break
    await stream.close()
    with pytest.raises(openai.APITimeoutError):  # read timeout between chunks
        async for _ in await client.chat.completions.create(
            model=MODEL, messages=[user("b")], stream=True, timeout=0.2
        ):
            pass
    await wait_until(lambda: fake.in_flight == 0, timeout=3.0)
    assert [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"messages": [user("x")]}, "model"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": [{"role": "bot", "content": "x"}]}, "role"),
        ({"model": MODEL, "messages": [{"role": "user", "content": None}]}, "content"),
        ({"model": MODEL, "messages": [{"role": "assistant"}]}, "assistant"),
        (
            {
                "model": MODEL,
                "messages": [user("x"), {"role": "tool", "tool_call_id": "c", "content": "r"}],
            },
            "preceeding",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x", "created_at": 1}]},
            "Additional properties",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": {}},
                            }
                        ],
                    }
                ],
            },
            "arguments",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    }
                ],
            },
            "did not have response messages: c",
        ),
        ({"model": MODEL, "messages": [user("x")], "tools": [TOOLS[0], TOOLS[0]]}, "duplicate"),
        (
            {
                "model": MODEL,
                "messages": [user("x")],
                "tools": [{"type": "function", "function": {"name": "bad name"}}],
            },
            "pattern",
        ),
        (
            {"model": MODEL, "messages": [user("x")], "stream_options": {"include_usage": True}},
            "stream_options",
        ),
    ],
)
def test_validation_rejects(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ChatRequestInvalid, match=reason):
        validate_chat_request(body)


def test_unknown_message_keys_allowed_when_not_strict() -> None:
    validate_chat_request(
        {"model": MODEL, "messages": [{**user("x"), "created_at": 1}]}, strict_keys=False
    )


def test_validation_accepts_parallel_tool_results() -> None:
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in range(2)
    ]
    validate_chat_request(
        {
            "model": MODEL,
            "tools": TOOLS,
            "tool_choice": "auto",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
                user("x"),
                {"role": "assistant", "content": "", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "c1", "content": "r1"},
                {"role": "tool", "tool_call_id": "c0", "content": [{"type": "text", "text": "r0"}]},
                {"role": "assistant", "content": "done"},
                user("thanks"),
            ],
        }
    )


def test_context_manager_and_sync_wait() -> None:
    server = FakeOpenAI()
    with server as base_url:
        assert base_url.endswith("/v1") and base_url == server.base_url
        with pytest.raises(AssertionError, match=r"expected 1 chat requests within .*, got 0"):
            server.wait_for_requests_sync(1, timeout=0.05)
