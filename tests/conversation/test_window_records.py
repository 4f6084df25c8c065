"""The window records of src/conversation/window.py beside compaction: a set-aside point, a
refused turn, and stored user messages with nothing visible."""

from __future__ import annotations

from src.conversation.message import Message
from src.conversation.window import (
    latest_summary,
    messages_from,
    refused_turn_record,
    set_aside_record,
)


def _texts(messages: list[Message]) -> list[str | None]:
    return [m.content for m in messages]


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def _assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


def test_a_set_aside_record_starts_the_window_at_its_turn() -> None:
    history = [_user("old"), _assistant("old answer"), _user("new"), set_aside_record()]
    history.append(_assistant("new answer"))
    summary, start = latest_summary(history)
    assert summary is not None and not summary.content  # no summary text to send
    assert start == 2
    assert _texts(messages_from(history, start)) == ["new", "new answer"]


def test_a_set_aside_record_outranks_an_older_summary() -> None:
    summary = Message(role="system", content="they talked", metadata={"compaction": {"kept": 1}})
    history = [_user("a"), summary, _assistant("b"), _user("c"), set_aside_record()]
    found, start = latest_summary(history)
    assert found is history[4] and start == 3


def test_a_refused_turn_is_left_out_and_does_not_hide_a_summary() -> None:
    summary = Message(role="system", content="they talked", metadata={"compaction": {"kept": 0}})
    history = [_user("a"), summary, _user("bad"), refused_turn_record(), _user("good")]
    found, start = latest_summary(history)
    assert found is summary and start == 1
    assert _texts(messages_from(history, start)) == ["good"]


def test_a_refused_turn_goes_with_its_tool_rounds() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
    history = [
        _user("fine"),
        _assistant("ok"),
        _user("bad"),
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", content="r", tool_call_id="c1"),
        refused_turn_record(),
        _user("next"),
    ]
    assert _texts(messages_from(history, 0)) == ["fine", "ok", "next"]


def test_blank_user_messages_are_left_out() -> None:
    history = [_user("hi"), _user(" \u00a0"), _assistant("hm?"), _user("\u200b"), _user("real")]
    assert _texts(messages_from(history, 0)) == ["hi", "hm?", "real"]
    # A cut inside a turn puts a visible question in front, never a blank one.
    assert _texts(messages_from(history, 2)) == ["hi", "hm?", "real"]


def test_an_empty_answer_is_left_out_but_a_tool_call_without_text_is_not() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
    history = [
        _user("q"),
        Message(role="assistant", content=None),
        _user("again"),
        Message(role="assistant", content=None, tool_calls=[call]),
        Message(role="tool", content="r", tool_call_id="c1"),
        _assistant(" "),
    ]
    assert [m.role for m in messages_from(history, 0)] == ["user", "user", "assistant", "tool"]
