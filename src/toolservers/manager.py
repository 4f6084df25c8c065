"""All the tool servers of mcp.yml: started together, kept in the registry, closed together.

Start-up connects to every MCP server at once and waits for their first attempts at most
`startup_wait` seconds: a server that is down or slow never delays the bot beyond that, keeps
being retried in the background, and its tools are registered when it comes up. A tool name
collision found during start-up stops it (ConfigError naming both tools); one found later keeps
the first tool and logs an error naming both.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ConfigError
from src.retry import Backoff
from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig
from src.toolservers.http_tools import HTTPTool, HTTPToolSession
from src.toolservers.naming import is_included, model_tool_name

if TYPE_CHECKING:
    from src.toolservers.connection import ListedTool, MCPConnection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerStatus:
    name: str
    transport: str  # http | stdio
    state: str  # connecting | up | down | closed | disabled | not started
    error: str | None
    tools: tuple[str, ...]  # the names the model sees
    asking: tuple[str, ...] = ()  # those of them that wait for the user's approval


class MCPManager:
    def __init__(
        self,
        config: MCPFileConfig,
        registry: ToolRegistry,
        backoff: Backoff | None = None,
        retry_gap_s: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`backoff`: between reconnect attempts (default: connection.RECONNECT_BACKOFF);
        `retry_gap_s`: a call on a down server tries again at most this often."""
        self.config = config
        self.registry = registry
        self.connections: dict[str, MCPConnection] = {}
        self._backoff = backoff
        self._retry_gap = retry_gap_s
        self._clock = clock
        self._http = HTTPToolSession()
        self._owned: dict[str, set[str]] = {}
        self._starting = False
        self._startup_error: ConfigError | None = None

    async def start(self, wait: float | None = None) -> None:
        """Register the HTTP tools, connect to the servers, wait for the first attempts at
        most `wait` seconds (default: mcp.yml `startup_wait`; a negative value waits for
        every first attempt). Raises ConfigError for a tool name collision."""
        for name, tool_config in self.config.tools.items():
            taken = self.registry.get(name)
            if taken is not None:
                raise ConfigError(
                    self.config.file, f"tools.{name}", f"the name is taken by {_owner(taken)}"
                )
            self.registry.register(HTTPTool(name, tool_config, self._http))
        servers = self.config.enabled_servers()
        if not servers:
            return
        from src.toolservers.connection import RECONNECT_BACKOFF, MCPConnection  # the mcp SDK

        self._starting = True
        for name, server in servers.items():
            connection = MCPConnection(
                name,
                server,
                self._sync_tools,
                self._backoff or RECONNECT_BACKOFF,
                self._retry_gap,
                self._clock,
            )
            self.connections[name] = connection
            connection.start()
        firsts = [asyncio.create_task(c.first_attempt.wait()) for c in self.connections.values()]
        limit = self.config.startup_wait if wait is None else wait
        try:
            await asyncio.wait(firsts, timeout=None if limit < 0 else limit)
        finally:
            for task in firsts:
                task.cancel()
            self._starting = False
        still = [c.name for c in self.connections.values() if c.state == "connecting"]
        if still:
            logger.info("mcp servers still connecting in the background: %s", ", ".join(still))
        if self._startup_error is not None:
            raise self._startup_error

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections.values()))
        await self._http.close()

    def status(self) -> list[ServerStatus]:
        result = []
        for name, server in self.config.mcpServers.items():
            connection = self.connections.get(name)
            if connection is None:
                state = "disabled" if server.disabled else "not started"
                result.append(ServerStatus(name, server.transport, state, None, ()))
                continue
            tools = tuple(sorted(self._owned.get(name, ())))
            asking = tuple(n for n in tools if getattr(self.registry.get(n), "confirm", False))
            result.append(
                ServerStatus(
                    name, server.transport, connection.state, connection.error, tools, asking
                )
            )
        return result

    def report(self) -> str:
        """Each server's state and tool names, then the plain HTTP tools (for /tools)."""
        lines = [describe(status) for status in self.status()]
        if self.config.tools:
            names = [
                f"{name} (asks first)" if tool.asks_first else name
                for name, tool in sorted(self.config.tools.items())
            ]
            lines.append(f"HTTP tools: {', '.join(names)}")
        return "\n".join(lines) if lines else "No tool servers are configured."

    # -- keeping the registry in step with a server's tools ------------------------------

    def _sync_tools(self, connection: MCPConnection, listed: list[ListedTool]) -> None:
        from src.toolservers.tool import MCPTool, model_schema, schema_problem

        server = connection.name
        wanted: dict[str, ListedTool] = {}
        for tool in listed:
            if not is_included(tool.name, connection.config.tools):
                continue
            name = model_tool_name(server, tool.name)
            problem = schema_problem(model_schema(tool.input_schema))
            if problem is not None:
                logger.error("mcp server %s: tool %r left out: %s", server, tool.name, problem)
                continue
            if name in wanted:
                self._collision(server, tool.name, name, f"tool {wanted[name].name!r} of {server}")
                continue
            wanted[name] = tool
        owned = self._owned.setdefault(server, set())
        for name in owned - wanted.keys():
            self.registry.unregister(name)
            owned.discard(name)
        for name, tool in wanted.items():
            taken = self.registry.get(name)
            if taken is not None and name not in owned:
                self._collision(server, tool.name, name, _owner(taken))
                continue
            self.registry.unregister(name)
            self.registry.register(MCPTool(name, connection, tool))
            owned.add(name)

    def _collision(self, server: str, tool: str, name: str, other: str) -> None:
        if self._starting:
            if self._startup_error is None:
                self._startup_error = ConfigError(
                    self.config.file,
                    f"mcpServers.{server}",
                    f"tool {tool!r} would be named {name}, which {other} already has (rename "
                    "a server or leave a tool out with tools.exclude)",
                )
            return
        logger.error(
            "mcp server %s: tool %r is not added: its name %s is taken by %s",
            server,
            tool,
            name,
            other,
        )


def describe(status: ServerStatus) -> str:
    head = f"{status.name} ({status.transport}): {status.state}"
    if status.error and status.state != "up":
        head += f" - {status.error}"
    if status.tools:
        asking = f"; asks first: {', '.join(status.asking)}" if status.asking else ""
        return f"{head}; tools: {', '.join(status.tools)}{asking}"
    return f"{head}; no tools" if status.state == "up" else head


def _owner(tool: object) -> str:
    server, name = getattr(tool, "server", None), getattr(tool, "tool", None)
    if server is not None:
        return f"tool {name!r} of {server}"
    if isinstance(tool, HTTPTool):
        return f"the HTTP tool {tool.name}"
    return f"the built-in tool {getattr(tool, 'name', '?')}"
