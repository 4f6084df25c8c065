"""One server's connection, through the MCPManager and the ToolRegistry: reconnects, the
send-again-only-if-never-sent rule, connect failures described in a few words, bounded close."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from src.retry import Backoff
from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig
from src.toolservers.manager import MCPManager
from tests.clock import TestClock
from tests.peers.serve import ServerThread, wait_until
from tests.toolservers.peers import MCPPeers

Start = Callable[..., Any]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """start(servers, **manager_options) -> (manager, registry); all closed at the end."""
    managers: list[MCPManager] = []

    async def run(servers: dict[str, Any], wait: float = -1, **options: Any) -> Any:
        registry = ToolRegistry()
        config = MCPFileConfig.model_validate({"mcpServers": servers})
        manager = MCPManager(config, registry, **options)
        managers.append(manager)
        await manager.start(wait=wait)
        return manager, registry

    yield run
    for manager in managers:
        await asyncio.wait_for(manager.close(), 15)


@pytest.fixture
def unauthorized() -> Iterator[str]:
    """An MCP endpoint behind a proxy that refuses our token."""

    async def refuse(_: web.Request) -> web.Response:
        return web.json_response({"error": "invalid token"}, status=401)

    app = web.Application()
    app.router.add_route("*", "/mcp", refuse)
    with ServerThread(app) as url:
        yield f"{url}/mcp"


async def test_an_expired_session_is_renewed_and_the_call_sent_once_more(
    start: Start, mcp_peers: MCPPeers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.toolservers.connection")
    server = await mcp_peers.everything()  # keeps sessions in memory
    manager, registry = await start({"ev": {"url": server.url}})
    assert (await registry.execute("ev__echo", '{"message": "one"}')).content == "Echo: one"
    server.kill()
    await server.start()  # same port, no sessions: ours is unknown now
    result = await registry.execute("ev__echo", '{"message": "two"}')
    assert (result.content, result.is_error) == ("Echo: two", False)
    assert "call to echo never reached the server (our session expired)" in caplog.text
    assert manager.connections["ev"].attempts == 2


async def test_a_call_on_a_down_server_tries_to_reconnect_at_once(
    start: Start, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.ours()
    # The background would wait 60 s before trying again; a call does not wait for that.
    manager, registry = await start(
        {"t": {"url": server.url}}, backoff=Backoff(60, 60), retry_gap_s=0
    )
    server.kill()
    result = await registry.execute("t__add", '{"a": 1, "b": 1}')
    assert result.is_error and "not available right now (cannot connect)" in result.content
    assert manager.connections["t"].state == "down"
    await server.start()
    result = await registry.execute("t__add", '{"a": 1, "b": 1}')
    assert (result.content, result.is_error) == ('{"result": 2}', False)


async def test_calls_run_at_the_same_time(start: Start, mcp_peers: MCPPeers, tmp_path: Any) -> None:
    calls = tmp_path / "calls.txt"
    server = await mcp_peers.ours(record=calls)
    _, registry = await start({"t": {"url": server.url}})
    first = asyncio.create_task(registry.execute("t__record", '{"token": "a", "seconds": 30}'))
    second = asyncio.create_task(registry.execute("t__record", '{"token": "b", "seconds": 30}'))
    # Both are running on the server at once, then both are cut off by our side.
    await wait_until(lambda: calls.exists() and sorted(calls.read_text().split()) == ["a", "b"])
    first.cancel()
    second.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    assert (await registry.execute("t__add", '{"a": 2, "b": 2}')).content == '{"result": 4}'


@pytest.mark.parametrize(
    ("server", "error"),
    [
        ({"command": "no-such-mcp-command"}, "command not found: no-such-mcp-command"),
        ({"command": sys.executable, "args": ["-c", "pass"]}, "server error: Connection closed"),
        ({"url": "http://127.0.0.1:9/mcp"}, "cannot connect"),
    ],
)
async def test_connect_failures_are_described_in_a_few_words(
    start: Start, server: dict[str, Any], error: str
) -> None:
    manager, registry = await start({"s": server})
    status = manager.status()[0]
    assert (status.state, status.error, status.tools) == ("down", error, ())
    assert registry.names() == []


async def test_a_refused_token_and_a_hung_server_are_reported(
    start: Start, mcp_peers: MCPPeers, unauthorized: str
) -> None:
    hung = mcp_peers.silent()
    servers = {"auth": {"url": unauthorized}, "hung": {"url": hung.url, "timeout": 1}}
    manager, _ = await start(servers)
    states = {s.name: (s.state, s.error) for s in manager.status()}
    assert states == {"auth": ("down", "HTTP 401"), "hung": ("down", "no answer within 1 s")}
    assert manager.report().splitlines() == [
        "auth (http): down - HTTP 401",
        "hung (http): down - no answer within 1 s",
    ]


async def test_close_does_not_wait_for_a_server_that_is_still_connecting(
    mcp_peers: MCPPeers,
) -> None:
    hung = mcp_peers.silent()
    manager = MCPManager(
        MCPFileConfig.model_validate({"mcpServers": {"hung": {"url": hung.url, "timeout": 300}}}),
        ToolRegistry(),
    )
    await manager.start(wait=0)
    assert manager.connections["hung"].state == "connecting"
    await asyncio.wait_for(manager.close(), 15)  # not 300 s
    assert manager.connections["hung"].state == "closed"


async def test_reconnects_back_off_on_the_clock_and_a_close_ends_the_wait(start: Start) -> None:
    clock = TestClock(auto=False)
    manager, _ = await start(
        {"s": {"url": "http://127.0.0.1:9/mcp"}}, backoff=Backoff(1, 4), clock=clock
    )
    connection = manager.connections["s"]
    for attempts, wait in [(1, 1), (2, 2), (3, 4), (4, 4)]:  # doubling, then the cap
        await clock.until_sleeping(1)
        assert (connection.attempts, connection.state, connection.error) == (
            attempts,
            "down",
            "cannot connect",
        )
        assert clock.sleeps[-1] == wait
        await clock.advance(wait)
    await clock.until_sleeping(1)
    await asyncio.wait_for(manager.close(), 15)  # only a hang guard: the wait ends at once
    assert connection.state == "closed"
    assert connection.attempts == 5
