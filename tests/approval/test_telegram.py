"""Asking before acting, through the real bot: the scripted model calls a tool marked
`confirm` on a real MCP server (server-everything, or our own test server), the local
Telegram server shows the question with its buttons, and presses decide what runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from src.approval.runner import DECLINED
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.toolservers.peers import MCPPeers

OTHER, ADMIN, STRANGER = 5151, 9001, 777
PEOPLE = {"allowed_user_ids": [OWNER, OTHER], "admin_user_ids": [ADMIN]}


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """A message's inline buttons: text -> callback data."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {button["text"]: button["callback_data"] for row in rows for button in row}


def tool_results(bots: BotRunner, request: int) -> list[str]:
    messages = bots.model.chat_requests()[request]["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"]


async def nth_message(bots: BotRunner, index: int, chat: int = OWNER) -> dict[str, Any]:
    return (await bots.telegram.wait_for_messages(chat, index + 1, timeout=20))[index]


async def press(bots: BotRunner, message: dict[str, Any], label: str, user: int = OWNER) -> str:
    """Press the button whose text starts with `label`; the bot's short answer to the press."""
    [data] = [d for text, d in buttons(message).items() if text.startswith(label)]
    before = len(bots.telegram.calls("answerCallbackQuery"))
    bots.telegram.push_callback_query(message, data, user_id=user)
    await until(lambda: len(bots.telegram.calls("answerCallbackQuery")) > before)
    return str(bots.telegram.calls("answerCallbackQuery")[before].params.get("text", ""))


async def until(predicate: Any, tries: int = 500) -> None:
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


def everything(url: str, confirm: object = True) -> dict[str, Any]:
    return {"mcpServers": {"ev": {"url": url, "confirm": confirm}}}


async def test_approve_runs_the_tool_and_deny_does_not(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp=everything(server.url))
    bots.model.enqueue(Reply.tool("ev__echo", message="hello there"), Reply(text="echoed"))
    bots.telegram.push_message(OWNER, "echo something")
    question = await nth_message(bots, 0)
    assert list(buttons(question))[:2] == ["Approve", "Deny"]
    assert "Always for this tool in this chat" in buttons(question)
    assert "Tool: ev__echo\nmessage: hello there" in question["text"]
    assert "No answer within 2 min counts as Deny." in question["text"]
    assert bots.model.request_count == 1  # the turn waits for the press

    assert await press(bots, question, "Approve") == "Approved."
    answer = await nth_message(bots, 1)
    assert answer["text"] == "echoed"
    assert tool_results(bots, 1) == ["Echo: hello there"]  # the MCP server ran it
    shown = bots.telegram.sent_messages(OWNER)[0]
    assert shown["text"].endswith(f"✅ Approved (by {OWNER}).") and not buttons(shown)

    bots.model.enqueue(Reply.tool("ev__echo", message="not this"), Reply(text="as you wish"))
    bots.telegram.push_message(OWNER, "echo again")
    question = await nth_message(bots, 2)
    assert await press(bots, question, "Deny") == "Denied."
    assert (await nth_message(bots, 3))["text"] == "as you wish"
    assert tool_results(bots, 3)[-1] == DECLINED
    denied = bots.telegram.sent_messages(OWNER)[2]["text"]
    assert denied.endswith(f"❌ Denied (by {OWNER}): not run.")
    assert not bots.model.invalid_requests


async def test_only_the_asker_or_an_admin_can_answer_and_only_once(
    bots: BotRunner, mcp_peers: MCPPeers, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    server = await mcp_peers.ours(record=calls)
    mcp = {"mcpServers": {"t": {"url": server.url, "confirm": ["record"]}}}
    await bots.start(mcp=mcp, telegram=PEOPLE)
    bots.model.enqueue(Reply.tool("t__record", token="once"), Reply(text="recorded"))
    bots.telegram.push_message(OWNER, "record it")
    question = await nth_message(bots, 0)

    assert await press(bots, question, "Approve", STRANGER) == "Sorry, this is a private assistant."
    expected = "Only the person who asked, or an admin, can answer this."
    assert await press(bots, question, "Approve", OTHER) == expected
    assert bots.model.request_count == 1 and not calls.exists()  # nothing changed

    assert await press(bots, question, "Approve", ADMIN) == "Approved."
    await nth_message(bots, 1)
    assert await press(bots, question, "Deny", OWNER) == "Already answered: approved."
    assert await press(bots, question, "Approve", OWNER) == "Already answered: approved."
    await asyncio.sleep(0.2)
    assert calls.read_text().splitlines() == ["once"]  # run once, for two presses after
    assert bots.telegram.texts(OWNER) == [
        bots.telegram.texts(OWNER)[0],
        "recorded",
    ] and bots.telegram.texts(OWNER)[0].endswith(f"✅ Approved (by {ADMIN}).")


async def test_no_answer_in_time_is_a_denial(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    clock = TestClock(auto=False)
    server = await mcp_peers.everything()
    await bots.start(mcp=everything(server.url), clock=clock, approval={"timeout_s": 30})
    bots.model.enqueue(Reply.tool("ev__echo", message="late"), Reply(text="no answer, no echo"))
    bots.telegram.push_message(OWNER, "echo late")
    question = await nth_message(bots, 0)
    assert "No answer within 30 s counts as Deny." in question["text"]
    await clock.until_sleeping()
    await clock.advance(29)
    await asyncio.sleep(0.2)
    assert bots.model.request_count == 1
    await clock.advance(1)
    assert (await nth_message(bots, 1))["text"] == "no answer, no echo"
    assert tool_results(bots, 1) == [
        "Not run: the user did not answer the approval question within 30 s, which counts as "
        "declined."
    ]
    shown = bots.telegram.sent_messages(OWNER)[0]
    assert shown["text"].endswith("⌛ No answer within 30 s: not run.") and not buttons(shown)
    assert await press(bots, question, "Approve") == "Already answered: it timed out."


async def test_several_calls_in_one_step_are_asked_one_after_another(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp=everything(server.url, ["echo"]))
    calls: list[tuple[str, dict[str, Any] | str]] = [
        ("ev__echo", {"message": "first"}),
        ("ev__get-sum", {"a": 1, "b": 2}),  # does not ask
        ("ev__echo", {"message": "second"}),
    ]
    bots.model.enqueue(Reply(tool_calls=calls), Reply(text="both handled"))
    bots.telegram.push_message(OWNER, "three tools")
    first = await nth_message(bots, 0)
    assert "message: first" in first["text"]
    await press(bots, first, "Approve")
    second = await nth_message(bots, 1)
    assert "message: second" in second["text"]
    await press(bots, second, "Deny")
    assert (await nth_message(bots, 2))["text"] == "both handled"
    assert tool_results(bots, 1) == ["Echo: first", "The sum of 1 and 2 is 3.", DECLINED]
    assert not bots.model.invalid_requests


async def test_always_for_this_tool_in_this_chat(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp=everything(server.url))
    bots.model.enqueue(Reply.tool("ev__echo", message="one"), Reply(text="first"))
    bots.telegram.push_message(OWNER, "echo one")
    question = await nth_message(bots, 0)
    assert await press(bots, question, "Always") == "Approved."
    assert (await nth_message(bots, 1))["text"] == "first"
    assert bots.telegram.texts(OWNER)[0].endswith(
        f"✅ Approved (by {OWNER}), and from now on for ev__echo in this chat."
    )
    bots.model.enqueue(Reply.tool("ev__echo", message="two"), Reply(text="second"))
    bots.telegram.push_message(OWNER, "echo two")
    assert (await nth_message(bots, 2))["text"] == "second"  # no question this time
    assert tool_results(bots, 3) == ["Echo: one", "Echo: two"]

    bots.telegram.push_message(OWNER, "/reset")  # forgets the standing approval with the chat
    await nth_message(bots, 3)
    bots.model.enqueue(Reply.tool("ev__echo", message="three"), Reply(text="third"))
    bots.telegram.push_message(OWNER, "echo three")
    assert "Approve" in buttons(await nth_message(bots, 4))
