"""mcp.yml: pasted `mcpServers` blocks load; mistakes stop start-up with one line naming the
server and key; tool names follow `<server>__<tool>`; name collisions at start-up stop it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from src.errors import ConfigError
from src.toolservers.config import MCPServerConfig, ToolFilter, load_mcp_config
from src.toolservers.naming import is_included, model_tool_name
from tests.harness import ROOT, BotRunner
from tests.toolservers.peers import MCPPeers

PASTED = """
{
  "mcpServers": {
    "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]},
    "remote": {"type": "http", "url": "https://example.com/mcp",
               "headers": {"Authorization": "Bearer ${TOKEN}"}},
    "typed": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time", "--port", 3000]}
  }
}
"""


def load(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> None:
    (tmp_path / "mcp.yml").write_text(body)
    load_mcp_config(tmp_path / "mcp.yml", env=env or {})


def test_a_pasted_json_block_loads(tmp_path: Path) -> None:
    (tmp_path / "mcp.yml").write_text(PASTED)
    config = load_mcp_config(tmp_path / "mcp.yml", env={"TOKEN": "s3cret"})
    servers = config.mcpServers
    assert servers["everything"].transport == "stdio" and servers["everything"].timeout == 30
    assert servers["remote"].transport == "http"
    assert servers["remote"].headers == {"Authorization": "Bearer s3cret"}
    assert servers["typed"].args == ["mcp-server-time", "--port", "3000"]
    assert config.startup_wait == 5 and config.file == str(tmp_path / "mcp.yml")


SERVER_MISTAKES = [
    ("{type: pigeon, url: 'http://h'}", "x.type: unknown transport 'pigeon' (use stdio or http)"),
    ("{type: sse, url: 'http://h/sse'}", "x.type: the SSE transport is not supported"),
    ("{timeout: 5}", "x: missing url or command: set exactly one of url (Streamable HTTP) or"),
    ("{type: stdio, args: [a]}", "x: missing command (the server's type is stdio)"),
    ("{type: http}", "x: missing url (the server's type is http)"),
    (
        "{url: 'http://h', command: run}",
        "x: set exactly one of url (Streamable HTTP) or command (stdio), not both",
    ),
    ("{url: 'http://h', args: [a]}", "x: args, env and cwd are for stdio servers (command)"),
    ("{command: run, headers: {A: b}}", "x: headers are for Streamable HTTP servers (url)"),
    ("{command: run, autoApprove: []}", "x.autoApprove: unknown key"),
    ("{url: 'http://h', timeout: 0}", "x.timeout: input should be greater than 0"),
    (
        "{url: 'http://h', headers: {Authorization: 'Bearer ${MISSING}'}}",
        "x.headers.Authorization: environment variable MISSING is not set",
    ),
    (
        "{command: run, env: {KEY: '${MISSING}'}}",
        "x.env.KEY: environment variable MISSING is not set",
    ),
]


@pytest.mark.parametrize(("server", "expected"), SERVER_MISTAKES)
def test_server_mistakes_are_one_line_naming_the_server_and_key(
    tmp_path: Path, server: str, expected: str
) -> None:
    assert_one_line(tmp_path, f"mcpServers:\n  x: {server}\n", f"mcpServers.{expected}")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "mcpServers:\n  bad.name: {command: run}\n",
            "mcpServers.bad.name: use 1-32 of [A-Za-z0-9_-]",
        ),
        (
            "tools:\n  web search: {url: 'http://h', description: d}\n",
            "tools.web search: use 1-64 of",
        ),
        ("tools:\n  search: {url: 'http://h'}\n", "tools.search.description: field required"),
        ("startup_wait: -1\n", "startup_wait: input should be greater than or equal to 0"),
    ],
)
def test_other_mistakes_are_one_line_naming_the_key(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert_one_line(tmp_path, body, expected)


def assert_one_line(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, body)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'mcp.yml'}: {expected}")


def test_bad_mcp_file_stops_the_bot_with_exit_2(bots: BotRunner, tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "mcp.yml").write_text(
        "mcpServers:\n  files:\n    type: websocket\n    url: ws://h\n"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "telegram_bot.py"), "--config", str(bots.write_config())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **bots.env},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mcp.yml: mcpServers.files.type: unknown transport 'websocket' (use stdio or http)"
    ]


async def test_a_name_collision_at_start_up_stops_it_naming_both(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.ours()
    clash = {"url": "http://127.0.0.1:9/never-called", "description": "Same name as a__add"}
    process = bots.spawn(mcp={"mcpServers": {"a": {"url": server.url}}, "tools": {"a__add": clash}})
    code = await asyncio.to_thread(process.wait, 60)
    assert code == 2, process.log
    lines = [line for line in process.log.splitlines() if "mcp.yml: " in line]
    assert lines == [
        f"{bots.tmp_path / 'mcp.yml'}: mcpServers.a: tool 'add' would be named a__add, which the "
        "HTTP tool a__add already has (rename a server or leave a tool out with tools.exclude)"
    ]
    assert "Traceback" not in process.log


async def test_a_later_collision_keeps_the_first_tool_and_logs_both(
    bots: BotRunner, mcp_peers: MCPPeers, caplog: pytest.LogCaptureFixture
) -> None:
    server = await mcp_peers.ours()
    clash = {"url": "http://127.0.0.1:9/never-called", "description": "Same name as a__add"}
    mcp = {"mcpServers": {"a": {"url": server.url}}, "tools": {"a__add": clash}, "startup_wait": 0}
    bot = await bots.start(mcp=mcp)
    runtime = bot.service.runtime
    assert runtime is not None and runtime.mcp is not None
    connection = runtime.mcp.connections["a"]
    await asyncio.wait_for(connection.first_attempt.wait(), 20)
    assert connection.state == "up"
    kept = runtime.tools.get("a__add")
    assert kept is not None and kept.description == "Same name as a__add"
    assert runtime.tools.get("a__slow") is not None  # its other tools are there
    assert (
        "mcp server a: tool 'add' is not added: its name a__add is taken by the HTTP tool a__add"
        in caplog.text
    )


def test_names_are_safe_short_and_distinct() -> None:
    assert model_tool_name("everything", "get-sum") == "everything__get-sum"
    assert model_tool_name("files", "read.file v2") == "files__read_file_v2"
    long_a = model_tool_name("server", "a" * 80 + "_one")
    long_b = model_tool_name("server", "a" * 80 + "_two")
    assert len(long_a) == len(long_b) == 64
    assert long_a != long_b and long_a.startswith("server__aaaa")
    assert model_tool_name("server", "a" * 80 + "_one") == long_a  # stable across restarts


def test_include_and_exclude_globs_match_the_servers_own_names() -> None:
    rules = ToolFilter(include=["read_*", "list"], exclude=["read_secret*"])
    assert is_included("read_file", rules) and is_included("list", rules)
    assert not is_included("read_secrets", rules) and not is_included("write_file", rules)
    assert is_included("anything", MCPServerConfig(command="x").tools)
