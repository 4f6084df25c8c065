"""Fixtures for the approval tests: the MCP servers of tests/toolservers."""

from __future__ import annotations

from tests.toolservers.conftest import mcp_peers

__all__ = ["mcp_peers"]
