"""A question open when the bot stops: the turn resumes after the restart and waits for the
same question (nothing is asked twice), a press made while the bot was down counts, and a
question that ran out while it was down is a clean denial. Also: a seed-style mcp.yml whose
HTTP tool says `requires_auth: true` asks before it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from src.approval.runner import DECLINED
from tests.approval.test_telegram import (
    buttons,
    everything,
    nth_message,
    press,
    tool_results,
    until,
)
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.toolservers.peers import MCPPeers
from tests.toolservers.test_http_tools import SearchService


async def test_the_turn_resumes_after_a_restart_and_waits_for_the_same_question(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.everything()
    first = await bots.start(mcp=everything(server.url))
    bots.model.enqueue(
        Reply.tool("ev__echo", message="across a restart"), Reply(text="echoed after it")
    )
    bots.telegram.push_message(OWNER, "echo across")
    question = await nth_message(bots, 0)
    assert await first.stop() == 0  # the waiting turn is abandoned at once, not after 7 s

    await bots.start(mcp=everything(server.url))
    await asyncio.sleep(0.3)
    assert len(bots.telegram.sent_messages(OWNER)) == 1  # not asked again
    assert bots.model.request_count == 1  # the resumed turn does not ask the model first
    assert await press(bots, question, "Approve") == "Approved."
    assert (await nth_message(bots, 1))["text"] == "echoed after it"
    assert tool_results(bots, 1) == ["Echo: across a restart"]
    history = await bots.history(str(OWNER))
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[2].metadata.get("resumed") is True
    assert not bots.model.invalid_requests


async def test_a_press_while_the_bot_is_down_counts(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.everything()
    first = await bots.start(mcp=everything(server.url))
    bots.model.enqueue(Reply.tool("ev__echo", message="pressed while down"), Reply(text="done"))
    bots.telegram.push_message(OWNER, "echo")
    question = await nth_message(bots, 0)
    await first.stop()
    bots.telegram.push_callback_query(question, buttons(question)["Deny"], user_id=OWNER)
    await bots.start(mcp=everything(server.url))
    assert (await nth_message(bots, 1))["text"] == "done"
    assert tool_results(bots, 1) == [DECLINED]
    await until(lambda: bool(bots.telegram.calls("answerCallbackQuery")))
    assert bots.telegram.calls("answerCallbackQuery")[0].params["text"] == "Denied."


async def test_a_question_that_ran_out_while_the_bot_was_down_is_a_denial(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    clock = TestClock(auto=False)
    server = await mcp_peers.everything()
    settings: dict[str, Any] = {
        "mcp": everything(server.url),
        "clock": clock,
        "approval": {"timeout_s": 60},
    }
    first = await bots.start(**settings)
    bots.model.enqueue(Reply.tool("ev__echo", message="too late"), Reply(text="not echoed"))
    bots.telegram.push_message(OWNER, "echo")
    question = await nth_message(bots, 0)
    await first.stop()
    await clock.advance(61)
    await bots.start(**settings)
    assert (await nth_message(bots, 1))["text"] == "not echoed"
    assert tool_results(bots, 1)[0].startswith("Not run: the user did not answer")
    shown = bots.telegram.sent_messages(OWNER)[0]
    assert shown["text"].endswith("⌛ No answer within 1 min: not run.") and not buttons(shown)
    assert await press(bots, question, "Approve") == "Already answered: it timed out."


@pytest.fixture
def email_service() -> Iterator[SearchService]:
    service = SearchService()
    service.body = '{"result": "sent"}'
    service.server.start()
    try:
        yield service
    finally:
        service.server.stop()


async def test_a_seed_style_http_tool_with_requires_auth_asks_first(
    bots: BotRunner, email_service: SearchService
) -> None:
    seed = {
        "mcpServers": {},
        "tools": {
            "email_sender": {
                "url": email_service.url,
                "description": "Send an email",
                "requires_auth": True,
                "parameters": {
                    "to": {"type": "string", "description": "Recipient"},
                    "body": {"type": "string", "description": "Text"},
                    "api_key": {"type": "string", "description": "The service's key"},
                },
            }
        },
    }
    await bots.start(mcp=seed)
    arguments = {"to": "bob@example.com", "body": "Hi Bob", "api_key": "sk-live-123"}
    bots.model.enqueue(Reply.tool("email_sender", **arguments), Reply(text="sent it"))
    bots.telegram.push_message(OWNER, "email Bob")
    question = await nth_message(bots, 0)
    assert (
        "Tool: email_sender\nto: bob@example.com\nbody: Hi Bob\napi_key: ••••••"
        in (question["text"])
    )
    assert "sk-live" not in question["text"]
    assert email_service.requests == []
    await press(bots, question, "Approve")
    assert (await nth_message(bots, 1))["text"] == "sent it"
    assert email_service.requests == [({"params": arguments}, None)]
