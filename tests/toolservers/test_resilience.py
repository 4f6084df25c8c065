"""A tool server that is slow, broken, killed or never there never takes the bot down: the model
gets a short error, the user gets an answer, and the server's tools work again when it is back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from src.toolservers.manager import MCPManager
from tests.harness import OWNER, BotRunner, InProcessBot, free_port
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until
from tests.toolservers.peers import MCPPeers, our_stdio_server


def manager(bot: InProcessBot) -> MCPManager:
    runtime = bot.service.runtime
    assert runtime is not None and runtime.mcp is not None
    return runtime.mcp


def last_tool_result(bots: BotRunner) -> str:
    messages = bots.model.chat_requests()[-1]["messages"]
    return str([m for m in messages if m["role"] == "tool"][-1]["content"])


async def turn(bots: BotRunner, *replies: Reply) -> str:
    """One user message whose model turn is `replies`; returns the text the user got."""
    before = len(bots.telegram.sent_messages(OWNER))
    bots.model.enqueue(*replies)
    bots.telegram.push_message(OWNER, "go")
    sent = await bots.telegram.wait_for_messages(OWNER, before + 1, timeout=30)
    return str(sent[-1]["text"])


async def test_slow_raising_and_badly_called_tools_become_errors_for_the_model(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.ours()
    bot = await bots.start(mcp={"mcpServers": {"t": {"url": server.url, "timeout": 1}}})

    assert await turn(bots, Reply.tool("t__slow", seconds=30), Reply(text="too slow")) == "too slow"
    assert last_tool_result(bots) == "Error: the tool t__slow did not finish in time."

    assert await turn(bots, Reply.tool("t__boom"), Reply(text="it broke")) == "it broke"
    result = last_tool_result(bots)
    assert result.startswith("Error: ") and "internal detail" not in result

    assert await turn(bots, Reply.tool("t__add", a="one", b=2), Reply(text="fix")) == "fix"
    assert last_tool_result(bots).startswith("Error: invalid arguments for t__add: a: ")

    # The session survived all of that: the next call works without a reconnect.
    assert await turn(bots, Reply.tool("t__add", a=1, b=2), Reply(text="3")) == "3"
    assert last_tool_result(bots) == '{"result": 3}'
    assert manager(bot).connections["t"].attempts == 1
    assert not bots.model.invalid_requests


async def test_killed_server_fails_cleanly_then_works_again(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.ours()
    bot = await bots.start(mcp={"mcpServers": {"t": {"url": server.url}}})
    assert await turn(bots, Reply.tool("t__add", a=1, b=1), Reply(text="two")) == "two"

    server.kill()
    assert await turn(bots, Reply.tool("t__add", a=2, b=2), Reply(text="sorry")) == "sorry"
    down = last_tool_result(bots)
    assert down.startswith("Error: the tool server t is not available right now (cannot connect)")
    connection = manager(bot).connections["t"]
    assert connection.state in ("down", "connecting")

    await server.start()  # same port; the bot is not restarted
    await wait_until(lambda: connection.state == "up", timeout=20)
    assert await turn(bots, Reply.tool("t__add", a=3, b=3), Reply(text="six")) == "six"
    assert last_tool_result(bots) == '{"result": 6}'
    assert bot.task is not None and not bot.task.done()


async def test_call_cut_off_mid_way_is_never_sent_again(
    bots: BotRunner, mcp_peers: MCPPeers, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.txt"
    server = await mcp_peers.ours(record=calls)
    bot = await bots.start(mcp={"mcpServers": {"t": {"url": server.url}}})
    bots.model.enqueue(Reply.tool("t__record", token="once", seconds=30), Reply(text="hmm"))
    bots.telegram.push_message(OWNER, "record this")
    await wait_until(lambda: calls.exists() and calls.read_text() == "once\n", timeout=15)
    server.kill()  # the server ran the call and died before answering
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=20)
    assert sent[0]["text"] == "hmm"
    assert "may or may not have run" in last_tool_result(bots)

    await server.start()
    await wait_until(lambda: manager(bot).connections["t"].state == "up", timeout=20)
    assert calls.read_text() == "once\n"  # not repeated, neither before nor after the restart


async def test_a_server_that_never_comes_up_delays_nothing(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    hung = mcp_peers.silent()  # accepts connections, never answers
    late_port = free_port()  # nothing listens yet
    servers: dict[str, Any] = {
        "hung": {"url": hung.url, "timeout": 60},
        "late": {"url": f"http://127.0.0.1:{late_port}/mcp"},
    }
    bot = await bots.start(mcp={"mcpServers": servers, "startup_wait": 0.5})
    connections = manager(bot).connections
    assert await turn(bots, Reply(text="hello without tools")) == "hello without tools"
    assert connections["hung"].state == "connecting"  # still waiting for its first answer
    offered = [t["function"]["name"] for t in bots.model.chat_requests()[0]["tools"]]
    assert offered == ["get_current_time"]

    await mcp_peers.ours(port=late_port)  # comes up later: retried in the background
    await wait_until(lambda: connections["late"].state == "up", timeout=20)
    assert await turn(bots, Reply.tool("late__add", a=4, b=5), Reply(text="nine")) == "nine"
    assert last_tool_result(bots) == '{"result": 9}'
    assert connections["hung"].state in ("connecting", "down")


async def test_stdio_server_that_exits_is_started_again(bots: BotRunner) -> None:
    bot = await bots.start(mcp={"mcpServers": {"s": our_stdio_server()}})
    await turn(bots, Reply.tool("s__pid"), Reply(text="pid"))
    first_pid = json.loads(last_tool_result(bots))["result"]
    connection = manager(bot).connections["s"]
    attempts = connection.attempts
    os.kill(first_pid, signal.SIGKILL)
    await wait_until(lambda: connection.attempts > attempts and connection.state == "up")
    await turn(bots, Reply.tool("s__pid"), Reply(text="pid again"))
    second_pid = json.loads(last_tool_result(bots))["result"]
    assert second_pid != first_pid

    assert await bot.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(second_pid, 0)  # stopping the bot stopped its stdio server


async def test_results_are_capped_per_server(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.ours()
    await bots.start(mcp={"mcpServers": {"t": {"url": server.url, "max_result_chars": 100}}})
    await turn(bots, Reply.tool("t__big", size=5000), Reply(text="long"))
    result = last_tool_result(bots)
    assert result.startswith('{"result": "xxxx')
    assert result.endswith("[... 4914 more characters cut]")


async def test_tool_with_an_invalid_schema_is_left_out(
    bots: BotRunner, mcp_peers: MCPPeers, caplog: pytest.LogCaptureFixture
) -> None:
    server = await mcp_peers.ours(bad_schema=True)
    await bots.start(mcp={"mcpServers": {"t": {"url": server.url}}})
    assert await turn(bots, Reply(text="fine")) == "fine"
    offered = [t["function"]["name"] for t in bots.model.chat_requests()[0]["tools"]]
    assert "t__add" in offered and "t__broken" not in offered
    assert "tool 'broken' left out: its input schema is invalid" in caplog.text
    assert not bots.model.invalid_requests


@pytest.mark.slow
async def test_sigterm_stops_the_bot_and_its_stdio_server(bots: BotRunner) -> None:
    process = bots.spawn(mcp={"mcpServers": {"s": our_stdio_server()}})
    await asyncio.to_thread(process.wait_polling, bots.telegram)
    await turn(bots, Reply.tool("s__pid"), Reply(text="pid"))
    child = json.loads(last_tool_result(bots))["result"]
    process.signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait) == 0, process.log
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert "Traceback" not in process.log
