"""The LLM boundary: one streaming `chat(messages, tools) -> LLMResponse` over the openai SDK.

The agent core depends only on `ChatModel` and the small dataclasses here. Every SDK error
becomes one of the LLMError subclasses of src/errors.py (`translate_error`), so callers can
tell an unreachable endpoint, a timeout, a rate limit, a refused request, a content-policy
refusal and refused credentials apart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import openai

from src.config import LLMConfig
from src.errors import (
    ImageInputRefusedError,
    LLMAuthError,
    LLMContentRefusedError,
    LLMError,
    LLMRateLimitedError,
    LLMRequestRefusedError,
    LLMTimeoutError,
    LLMUnavailableError,
)
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
        self._auth_reported = False

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
            error = translate_error(exc)
            if isinstance(error, LLMAuthError) and not self._auth_reported:
                self._auth_reported = True  # the operator's problem: said loudly, once
                logger.critical(
                    "the model endpoint %s refused the API key (%s); every turn fails until "
                    "llm.api_key (OPENAI_API_KEY) is fixed",
                    self.config.base_url,
                    error,
                )
            raise error from exc
        return answer.response(body["model"])


CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})


def translate_error(exc: openai.OpenAIError) -> LLMError:
    """The LLMError for an SDK error. The message is for the log (never shown to users)."""
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return LLMTimeoutError("the model did not answer in time")
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one
        return LLMUnavailableError("the model endpoint cannot be reached")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = f"{status}: {str(exc.message)[:300]}"
        if status >= 500:
            return LLMUnavailableError(f"the model endpoint answered {status}")
        if status == 429:
            return LLMRateLimitedError(f"the model endpoint is rate limiting us ({detail})")
        if status in (401, 403):
            return LLMAuthError(f"the model endpoint refused our credentials ({detail})")
        if _content_policy(exc):
            return LLMContentRefusedError(f"the provider's content policy refused ({detail})")
        if _no_image_input(str(exc.message)):
            return ImageInputRefusedError(f"the model takes no image input ({detail})")
        return LLMRequestRefusedError(f"the model endpoint refused the request ({detail})")
    return LLMError(f"model error: {type(exc).__name__}")


def _content_policy(exc: openai.APIStatusError) -> bool:
    """OpenAI says `code: content_policy_violation`; Azure OpenAI says `code: content_filter`
    (sometimes only inside `innererror`)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("innererror")
    codes = {exc.code, body.get("type"), inner.get("code") if isinstance(inner, dict) else None}
    return bool(CONTENT_POLICY_CODES & {c for c in codes if isinstance(c, str)})


_NO_IMAGES = re.compile(
    r"not a (multimodal|multi-modal|vision)|"
    r"(image|vision|multimodal|multi-modal).*(not support|only supported|unsupported|"
    r"unknown variant|does not accept)|"
    r"(not support|unsupported|does not accept|unknown variant).*(image|vision)",
    re.IGNORECASE | re.DOTALL,
)


def _no_image_input(message: str) -> bool:
    """Providers word it differently: OpenAI "image_url is only supported by certain
    models", vLLM "... is not a multimodal model", others "image input is not supported"
    or a schema error naming `image_url`."""
    return bool(_NO_IMAGES.search(message))


def _refused(exc: BaseException) -> bool:
    """The SDK's aiohttp transport reports every failed connection (refused, reset, unknown
    host) as a connect timeout; the aiohttp error underneath tells the two apart."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False
