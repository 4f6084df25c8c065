"""mcp.yml `confirm` and `requires_auth`: which tools wait for the user's approval (per server:
true, destructive by the server's annotations, or globs; per HTTP tool: true), and a
seed-style file that marks a tool `requires_auth: true` loads as written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from src.errors import ConfigError
from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig, MCPServerConfig, load_mcp_config
from src.toolservers.manager import MCPManager
from tests.toolservers.peers import MCPPeers

# The original plan's mcp.yml, as seed 001 wrote it: a plain HTTP tool with requires_auth.
SEED_STYLE = """
mcpServers: {}
tools:
  web_search:
    url: https://search.example.com/search
    description: Search the web
    parameters:
      query: {type: string, description: The search query}
  email_sender:
    url: https://email.example.com/send
    description: Send an email
    requires_auth: true
    parameters:
      to: {type: string, description: Recipient}
      subject: {type: string, description: Subject}
      body: {type: string, description: Body}
"""


def test_a_seed_style_file_with_requires_auth_loads(tmp_path: Path) -> None:
    (tmp_path / "mcp.yml").write_text(SEED_STYLE)
    config = load_mcp_config(tmp_path / "mcp.yml", env={})
    assert config.tools["email_sender"].asks_first
    assert not config.tools["web_search"].asks_first


async def test_http_tools_marked_confirm_or_requires_auth_ask() -> None:
    tools = {
        "a": {"url": "http://127.0.0.1:9/a", "description": "A", "confirm": True},
        "b": {"url": "http://127.0.0.1:9/b", "description": "B", "requires_auth": True},
        "c": {"url": "http://127.0.0.1:9/c", "description": "C"},
    }
    registry = ToolRegistry()
    manager = MCPManager(MCPFileConfig.model_validate({"tools": tools}), registry)
    await manager.start()
    try:
        asking = {name: registry.get(name).confirm for name in "abc"}  # type: ignore[union-attr]
        assert asking == {"a": True, "b": True, "c": False}
        assert manager.report() == "HTTP tools: a (asks first), b (asks first), c"
    finally:
        await manager.close()


@pytest.mark.parametrize(
    ("confirm", "requires_auth", "expected"),
    [
        (False, False, {"wipe": False, "peek": False, "add": False}),
        (True, False, {"wipe": True, "peek": True, "add": True}),
        (False, True, {"wipe": True, "peek": True, "add": True}),
        ("destructive", False, {"wipe": True, "peek": False, "add": False}),
        (["w*", "add"], False, {"wipe": True, "peek": False, "add": True}),
        ([], False, {"wipe": False, "peek": False, "add": False}),
    ],
)
def test_a_servers_rule(confirm: object, requires_auth: bool, expected: dict[str, bool]) -> None:
    server = MCPServerConfig.model_validate(
        {"url": "http://h/mcp", "confirm": confirm, "requires_auth": requires_auth}
    )
    destructive = {"wipe": True, "peek": False, "add": False}  # as the annotations say
    assert {t: server.asks_first(t, destructive[t]) for t in expected} == expected


@pytest.mark.parametrize("value", ["'yes please'", "3", "[a, 7]", "{a: 1}", "''"])
def test_a_wrong_confirm_value_is_one_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "mcp.yml").write_text(f"mcpServers:\n  x: {{url: 'http://h', confirm: {value}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(tmp_path / "mcp.yml", env={})
    assert str(caught.value) == (
        f"{tmp_path / 'mcp.yml'}: mcpServers.x.confirm: use true, false, destructive or a list "
        "of globs over the server's tool names"
    )


async def test_destructive_follows_the_servers_annotations(mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.ours()
    config = MCPFileConfig.model_validate(
        {"mcpServers": {"s": {"url": server.url, "confirm": "destructive"}}}
    )
    registry = ToolRegistry()
    manager = MCPManager(config, registry)
    await manager.start(wait=-1)
    try:
        asking = [n for n in registry.names() if getattr(registry.get(n), "confirm", False)]
        assert asking == ["s__wipe"]  # peek says destructive but also read-only; add says nothing
        assert manager.report().endswith("; asks first: s__wipe")
    finally:
        await asyncio.wait_for(manager.close(), 15)
