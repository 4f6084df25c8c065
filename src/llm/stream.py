"""Folding a streamed chat completion, chunk by chunk, into one response.

The chunks arrive as the JSON objects the endpoint sent (the SDK decodes the server-sent
events, raises on error events and retries; see client.py). Reading them as plain dicts
instead of the SDK's chunk models plus `ChatCompletionStreamState` costs about a fifth of
the CPU: 9 ms instead of 45 + 60 ms for a 400-chunk answer, and a real model sends about
one chunk per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from src.errors import LLMContentRefusedError, LLMError


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
    cached_tokens: int = 0  # of prompt_tokens, read from the provider's prompt cache

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(frozen=True)
class LLMResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    model: str = ""
    finish_reason: str | None = None


@dataclass
class _PartialCall:
    id: str = ""
    type: str = "function"
    name: str = ""
    arguments: str = ""


class StreamAccumulator:
    def __init__(self) -> None:
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._chunks = 0
        self._choices = 0
        self._usage: Usage | None = None
        self._model = ""
        self._finish_reason: str | None = None

    def add(self, chunk: object) -> str:
        """Fold one chunk in; returns the text it adds ("" if none)."""
        if not isinstance(chunk, dict):
            raise LLMError("the model sent a malformed stream")
        self._chunks += 1
        if isinstance(model := chunk.get("model"), str) and model:
            self._model = model
        if isinstance(usage := chunk.get("usage"), dict):
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if isinstance(details, dict) else 0
            self._usage = Usage(
                _count(usage.get("prompt_tokens")),
                _count(usage.get("completion_tokens")),
                _count(cached),
            )
        choices = chunk.get("choices") or []
        choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if choice is None:
            return ""
        self._choices += 1
        if isinstance(finish := choice.get("finish_reason"), str):
            self._finish_reason = finish
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return ""
        if isinstance(refusal := delta.get("refusal"), str):
            self._refusal.append(refusal)
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                self._add_call(call)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text.append(content)
            return content
        return ""

    def _add_call(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        if not isinstance(index, int):  # some servers leave it out: a new id starts a call
            new = bool(call.get("id")) and all(p.id != call.get("id") for p in self._calls.values())
            index = len(self._calls) if new or not self._calls else max(self._calls)
        partial = self._calls.setdefault(index, _PartialCall())
        if isinstance(call_id := call.get("id"), str) and not partial.id:
            partial.id = call_id  # some servers repeat it in every chunk
        if isinstance(kind := call.get("type"), str):
            partial.type = kind
        function = call.get("function")
        if isinstance(function, dict):
            if isinstance(name := function.get("name"), str):
                partial.name += name
            if isinstance(arguments := function.get("arguments"), str):
                partial.arguments += arguments

    def response(self, requested_model: str) -> LLMResponse:
        if not self._chunks:
            raise LLMError("the model sent an empty stream")
        if not self._choices:
            raise LLMError("the model sent no choices")
        if self._finish_reason == "content_filter":
            raise LLMContentRefusedError("the provider's content filter stopped the answer")
        calls = [
            ToolCall(id=p.id, name=p.name, arguments=p.arguments or "{}")
            for _, p in sorted(self._calls.items())
            if p.type == "function"
        ]
        return LLMResponse(
            text="".join(self._text) or "".join(self._refusal),
            tool_calls=calls,
            usage=self._usage,
            model=self._model or requested_model,
            finish_reason=self._finish_reason,
        )


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0
