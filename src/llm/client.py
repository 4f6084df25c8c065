"""The LLM boundary: one streaming `chat(messages, tools) -> LLMResponse` over the openai SDK.

The agent core depends only on `ChatModel` and the small dataclasses here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
from openai.lib.streaming.chat import ChatCompletionStreamState

from src.config import LLMConfig
from src.errors import LLMError, LLMTimeoutError, LLMUnavailableError

logger = logging.getLogger(__name__)

DeltaCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class LLMResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    model: str = ""
    finish_reason: str | None = None


class ChatModel(Protocol):
    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        model: str | None = None,
        temperature: float | None = None,
        tool_choice: str | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse: ...


class LLMClient:
    """An OpenAI-compatible chat endpoint. Retries and timeouts are the SDK's."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value() or "unset",
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            # The SDK's aiohttp transport: the same client API, retries and timeouts, at about
            # two thirds of the default transport's CPU per request (bench/e2e.py overhead).
            http_client=openai.DefaultAioHttpClient(),
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def list_models(self) -> list[str]:
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return [model.id for model in page.data]

    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        model: str | None = None,
        temperature: float | None = None,
        tool_choice: str | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> LLMResponse:
        """Stream one completion; text deltas go to `on_delta` as they arrive."""
        params: dict[str, Any] = {
            "model": model or self.config.model,
            "messages": [],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # The history and the tool schemas are plain JSON already: passing them as the
        # SDK's documented `extra_body` skips its per-request TypedDict transform, which
        # costs ~0.1 ms per message (25 ms for a 160-message window) and grew with history.
        body: dict[str, Any] = {"messages": messages}
        if tools:
            body["tools"] = tools
            if tool_choice:
                params["tool_choice"] = tool_choice
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            params["temperature"] = temperature
        if self.config.max_output_tokens:
            params["max_completion_tokens"] = self.config.max_output_tokens
        state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
        try:
            stream = await self._client.chat.completions.create(**params, extra_body=body)
            async with stream:
                async for chunk in stream:
                    state.handle_chunk(chunk)
                    if on_delta is not None and chunk.choices:
                        delta = chunk.choices[0].delta.content
                        if delta:
                            await on_delta(delta)
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return _response(state, params["model"])


def _response(state: ChatCompletionStreamState[Any], requested_model: str) -> LLMResponse:
    try:
        snapshot = state.current_completion_snapshot
    except AssertionError:
        raise LLMError("the model sent an empty stream") from None
    if not snapshot.choices:
        raise LLMError("the model sent no choices")
    choice = snapshot.choices[0]
    calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
        for call in choice.message.tool_calls or []
        if call.type == "function"
    ]
    usage = None
    if snapshot.usage is not None:
        usage = Usage(snapshot.usage.prompt_tokens or 0, snapshot.usage.completion_tokens or 0)
    return LLMResponse(
        text=choice.message.content or "",
        tool_calls=calls,
        usage=usage,
        model=snapshot.model or requested_model,
        finish_reason=choice.finish_reason,
    )


def translate_error(exc: openai.OpenAIError) -> LLMError:
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError("the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailableError("the model endpoint cannot be reached")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code == 429:
            return LLMUnavailableError(f"the model endpoint answered {exc.status_code}")
        return LLMError(f"the model endpoint refused the request ({exc.status_code})")
    return LLMError(f"model error: {type(exc).__name__}")
