"""The agent loop when the endpoint refuses: a request built from history is retried once
with the turn alone and the history set aside; the turn itself refused is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.conversation.message import Message
from src.conversation.window import is_compaction
from src.errors import EmptyMessageError, LLMRequestRefusedError
from tests.direct import TextTool, direct
from tests.peers.openai_server import FakeOpenAI, Reply


def _roles(body: dict[str, Any]) -> list[str]:
    return [m["role"] for m in body["messages"]]


async def test_a_refused_history_is_set_aside_mid_turn(tmp_path: Path, model: FakeOpenAI) -> None:
    tool = TextTool("lookup", answer="42")
    async with direct(tmp_path, model, tools=[tool]) as bot:
        await bot.ask("old question")
        model.enqueue(
            Reply.tool("lookup", q="x"),  # round 1 works with the history
            Reply.error(400, "Invalid 'messages[1]'"),  # round 2 with the history: refused
            Reply(text="the answer is 42"),  # round 2 with the turn alone
            Reply(text="next answer"),
        )
        response = await bot.ask("new question")
        assert response.text == "the answer is 42" and response.history_set_aside
        retried = model.requests[-1]
        assert _roles(retried) == ["system", "user", "assistant", "tool"]
        assert retried["messages"][1]["content"] == "new question"

        later = await bot.ask("and then?")
        assert later.text == "next answer" and not later.history_set_aside
        contents = [m.get("content") for m in model.last_request()["messages"][1:]]
        assert contents[0] == "new question" and "old question" not in contents
        stored = await bot.store.load_conversation("chat")
        assert stored[0].content == "old question"  # the full history stays stored
        assert sum(is_compaction(m) for m in stored) == 1
    assert not model.invalid_requests


async def test_a_refused_turn_without_history_is_not_retried(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model) as bot:
        model.enqueue(Reply.error(400, "Invalid 'messages[1]'"))
        with pytest.raises(LLMRequestRefusedError):
            await bot.ask("first ever")
        assert model.request_count == 1
        assert (await bot.ask("second")).text == "echo: second"


async def test_blank_text_never_reaches_the_model_or_the_history(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model) as bot:
        for blank in ("", " \u00a0 ", "\u200b\ufeff", "\u3164"):
            with pytest.raises(EmptyMessageError):
                await bot.ask(blank)
        assert model.request_count == 0
        assert await bot.store.load_conversation("chat") == []


async def test_old_empty_messages_are_skipped(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model) as bot:
        await bot.store.append_messages(
            "chat", [Message(role="user", content=" \u2003 "), Message(role="user", content="")]
        )
        model.reject_blank = True
        assert (await bot.ask("hi")).text == "echo: hi"
        assert [m["content"] for m in model.last_request()["messages"][1:]] == ["hi"]
    assert not model.invalid_requests
