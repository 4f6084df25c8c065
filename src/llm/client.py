"""The LLM boundary: one streaming `chat(messages, tools) -> LLMResponse` over the openai SDK.

The agent core depends only on `ChatModel` and the small dataclasses here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import openai

from src.config import LLMConfig
from src.errors import LLMError, LLMTimeoutError, LLMUnavailableError
from src.llm.stream import LLMResponse, StreamAccumulator, ToolCall, Usage

__all__ = ["ChatModel", "LLMClient", "LLMResponse", "ToolCall", "Usage", "translate_error"]

logger = logging.getLogger(__name__)

DeltaCallback = Callable[[str], Awaitable[None]]


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
        body: dict[str, Any] = {
            "model": model or self.config.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
            if tool_choice:
                body["tool_choice"] = tool_choice
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if self.config.max_output_tokens:
            body["max_completion_tokens"] = self.config.max_output_tokens
        answer = StreamAccumulator()
        try:
            # The SDK's request, retries, timeouts, SSE decoding and error events, with the
            # chunks left as the JSON they are (see stream.py for why). The body is plain
            # JSON already, so the SDK's per-request TypedDict transform (~0.1 ms per
            # history message) is skipped too.
            stream = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
            async with stream:
                async for chunk in stream:
                    delta = answer.add(chunk)
                    if delta and on_delta is not None:
                        await on_delta(delta)
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return answer.response(body["model"])


def translate_error(exc: openai.OpenAIError) -> LLMError:
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return LLMTimeoutError("the model did not answer in time")
    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailableError("the model endpoint cannot be reached")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailableError("the model endpoint cannot be reached")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code == 429:
            return LLMUnavailableError(f"the model endpoint answered {exc.status_code}")
        return LLMError(f"the model endpoint refused the request ({exc.status_code})")
    return LLMError(f"model error: {type(exc).__name__}")


def _refused(exc: BaseException) -> bool:
    """The SDK's aiohttp transport reports every failed connection (refused, reset, unknown
    host) as a connect timeout; the aiohttp error underneath tells the two apart."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False
