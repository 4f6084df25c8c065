"""The audit trail through the real bot, on the file store and on DynamoDB (moto): an entry
for every tool run (approved, denied, approved then failed, timed out, not asked), read by
admins with /audit; /metrics counts the answers."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from src.agents.access_commands import ADMINS_ONLY
from src.approval.describe import digest
from tests.approval.test_telegram import nth_message, press
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.toolservers.peers import MCPPeers

ADMIN = 9001


async def turn(bots: BotRunner, clock: TestClock, call: Reply, index: int) -> dict[str, Any]:
    """One turn whose model calls a tool; the message the bot sends at `index` (the question,
    or the answer for a tool that does not ask)."""
    await clock.advance(1)  # entries one second apart, so their order is known
    bots.model.enqueue(call, Reply(text=f"turn {index} done"))
    bots.telegram.push_message(OWNER, f"turn {index}")
    return await nth_message(bots, index)


async def test_every_tool_run_leaves_an_entry(
    bots: BotRunner, mcp_peers: MCPPeers, bot_store: dict[str, Any]
) -> None:
    clock = TestClock(auto=False)
    server = await mcp_peers.ours()
    mcp = {"mcpServers": {"t": {"url": server.url, "confirm": ["add", "boom", "weather"]}}}
    people = {"admin_user_ids": [ADMIN]}
    bot = await bots.start(
        mcp=mcp, clock=clock, telegram=people, approval={"timeout_s": 30}, **bot_store
    )
    question = await turn(bots, clock, Reply.tool("t__add", a=1, b=2), 0)
    await press(bots, question, "Approve")
    await nth_message(bots, 1)
    question = await turn(bots, clock, Reply.tool("t__add", a=3, b=4), 2)
    await press(bots, question, "Deny")
    await nth_message(bots, 3)
    question = await turn(bots, clock, Reply.tool("t__boom"), 4)
    await press(bots, question, "Approve")
    await nth_message(bots, 5)
    await turn(bots, clock, Reply.tool("t__weather", city="Oslo"), 6)
    await clock.until_sleeping()
    await clock.advance(30)
    await nth_message(bots, 7)
    assert (await turn(bots, clock, Reply.tool("t__pid"), 8))["text"] == "turn 8 done"

    assert bot.service.runtime is not None
    trail = bot.service.runtime.coordinator.tool_runner.audit
    entries = await trail.recent([OWNER], 20)
    assert [(e.tool, e.outcome, e.approval, e.decided_by) for e in entries] == [
        ("t__pid", "ok", None, None),
        ("t__weather", "timed_out", "asked", None),
        ("t__boom", "approved_then_failed", "asked", OWNER),
        ("t__add", "denied", "asked", OWNER),
        ("t__add", "ok", "asked", OWNER),
    ]
    assert {e.conversation_id for e in entries} == {str(OWNER)}
    assert entries[-1].args_sha256 == digest('{"b": 2, "a": 1}')  # canonical JSON
    assert entries[-1].arguments is None  # audit.keep_arguments is off
    assert entries[-1].duration_s is not None and entries[-2].duration_s is None

    before = len(bots.telegram.sent_messages(OWNER))
    bots.telegram.push_message(OWNER, "/audit")
    assert (await nth_message(bots, before))["text"] == ADMINS_ONLY
    bots.telegram.push_message(ADMIN, "/audit")
    report = (await nth_message(bots, 0, ADMIN))["text"].splitlines()
    assert report[0] == "The newest 5 tool run(s) of everyone, newest first:"
    line = r"• 2023-11-14 22:1\d:\d\d UTC {}; user 4242 in 4242{}; args sha256 [0-9a-f]{{12}}$"
    patterns = [
        ("t__pid: ok in 0.00 s", ""),
        ("t__weather: timed out", ""),
        ("t__boom: approved, then failed in 0.00 s", "; approved by 4242"),
        ("t__add: denied", "; denied by 4242"),
        ("t__add: ok in 0.00 s", "; approved by 4242"),
    ]
    for text, pattern in zip(report[1:], patterns, strict=True):
        assert re.match(line.format(re.escape(pattern[0]), re.escape(pattern[1])), text), text
    bots.telegram.push_message(ADMIN, "/audit 12345")
    assert (await nth_message(bots, 1, ADMIN))["text"] == "No tool runs recorded for user 12345."
    if bot_store:
        assert not bots.data_dir.exists()  # it all went to DynamoDB


async def test_metrics_count_the_answers(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp={"mcpServers": {"m": {"url": server.url, "confirm": True}}})
    bots.model.enqueue(Reply.tool("m__echo", message="x"), Reply(text="ok"))
    bots.telegram.push_message(OWNER, "echo")
    await press(bots, await nth_message(bots, 0), "Deny")
    await nth_message(bots, 1)
    metrics = await _metrics(bots)
    assert 'assistant_tool_approvals_total{decision="denied",tool="m__echo"} 1.0' in metrics


async def _metrics(bots: BotRunner) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", bots.health_port)
    writer.write(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    await writer.wait_closed()
    return body.decode()
