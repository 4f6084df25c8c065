"""Fixtures for the MCP tests: real MCP servers as child processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.toolservers.peers import MCPPeers


@pytest.fixture
def mcp_peers(tmp_path: Path) -> Iterator[MCPPeers]:
    peers = MCPPeers(tmp_path)
    try:
        yield peers
    finally:
        peers.close()
