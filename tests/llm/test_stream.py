"""Folding chunks into a response: the shapes that OpenAI-compatible servers really send,
and the ones that must become a clear LLMError instead of a crash."""

from __future__ import annotations

from typing import Any

import pytest

from src.errors import LLMError
from src.llm.stream import StreamAccumulator, ToolCall, Usage


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Any:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"model": "m-1", "choices": [choice], **extra}


def fold(*chunks: Any) -> StreamAccumulator:
    answer = StreamAccumulator()
    for c in chunks:
        answer.add(c)
    return answer


def test_tool_calls_without_index_and_with_repeated_ids() -> None:
    """Some servers leave `index` out, or repeat the id in every piece."""
    answer = fold(
        chunk({"tool_calls": [{"id": "a", "type": "function", "function": {"name": "x"}}]}),
        chunk({"tool_calls": [{"id": "a", "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"function": {"arguments": ' "1"}'}}]}),
        chunk({"tool_calls": [{"id": "b", "type": "function", "function": {"name": "y"}}]}),
        chunk({}, "tool_calls"),
    )
    assert answer.response("m").tool_calls == [
        ToolCall("a", "x", '{"q": "1"}'),
        ToolCall("b", "y", "{}"),
    ]


def test_usage_model_finish_and_a_refusal() -> None:
    answer = fold(
        chunk({"role": "assistant", "content": None, "refusal": "I can't "}),
        chunk({"refusal": "help with that."}, "stop"),
        {"model": "m-1", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
    )
    response = answer.response("requested")
    assert response.text == "I can't help with that."
    assert response.usage == Usage(7, 3) and response.model == "m-1"
    assert response.finish_reason == "stop"


def test_text_deltas_are_returned_as_they_come() -> None:
    answer = StreamAccumulator()
    assert answer.add(chunk({"role": "assistant", "content": ""})) == ""
    assert answer.add(chunk({"content": "Hi"})) == "Hi"
    assert answer.add({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}) == ""
    assert answer.response("requested").text == "Hi"
    assert answer.response("requested").model == "m-1"


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([], "empty stream"),
        ([{"model": "m", "choices": []}], "no choices"),
        (["not an object"], "malformed"),
    ],
)
def test_unusable_streams_are_llm_errors(chunks: list[Any], message: str) -> None:
    with pytest.raises(LLMError, match=message):
        fold(*chunks).response("m")
