"""`--check`'s probe of mcp.yml: connect to every tool server once, report its state and tools."""

from __future__ import annotations

from src.config import Config
from src.errors import ConfigError
from src.runtime import build_tools
from src.toolservers.config import MCPFileConfig
from src.toolservers.manager import MCPManager, describe


async def check_tool_servers(config: Config, mcp: MCPFileConfig) -> list[tuple[bool, str, str]]:
    """(passed, name, detail) per server: up (or disabled) passes; down or a collision fails.
    Each server gets its whole first attempt (bounded by its own timeout)."""
    manager = MCPManager(mcp, build_tools(config))
    results: list[tuple[bool, str, str]] = []
    try:
        try:
            await manager.start(wait=-1)
        except ConfigError as exc:
            results.append((False, "mcp", str(exc)))
        for status in manager.status():
            good = status.state in ("up", "disabled")
            detail = describe(status).removeprefix(f"{status.name} ")
            results.append((good, f"mcp:{status.name}", detail))
        if mcp.tools:
            names = ", ".join(sorted(mcp.tools))
            results.append((True, "http tools", f"{names} (configured; not called)"))
    finally:
        await manager.close()
    return results
