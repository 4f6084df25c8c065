"""Our own MCP test server, built with the mcp SDK: tools that misbehave on purpose.

    python tests/toolservers/server.py --port 8123 [--record calls.txt]    # Streamable HTTP
    python tests/toolservers/server.py --stdio [--record calls.txt]        # stdio

`--record` appends one line per call of `record` (to prove a call was not sent twice);
`--bad-schema` adds a tool `broken` whose input schema is invalid. `wipe` is annotated
destructive, `peek` destructive but read-only (for mcp.yml `confirm: destructive`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

app: MCPServer = MCPServer("misbehaving-test-server")
RECORD: Path | None = None


class Weather(BaseModel):
    city: str
    temperature: float
    conditions: str


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
async def slow(seconds: float) -> str:
    """Wait the given number of seconds, then answer."""
    await asyncio.sleep(seconds)
    return f"waited {seconds} s"


@app.tool()
def boom() -> str:
    """Always fails."""
    raise RuntimeError("the test tool exploded (internal detail)")


@app.tool()
def weather(city: str) -> Weather:
    """Structured weather for a city."""
    return Weather(city=city, temperature=21.5, conditions="sunny")


@app.tool()
def big(size: int) -> str:
    """A long text of the given size."""
    return "x" * size


@app.tool()
async def record(token: str, seconds: float = 0) -> str:
    """Write the token to the record file, then wait `seconds`."""
    if RECORD is not None:
        with RECORD.open("a", encoding="utf-8") as file:
            file.write(token + "\n")
    await asyncio.sleep(seconds)
    return f"recorded {token}"


@app.tool(annotations=ToolAnnotations(destructive_hint=True, read_only_hint=False))
def wipe(path: str) -> str:
    """Pretend to delete a file (annotated destructive)."""
    return f"wiped {path}"


@app.tool(annotations=ToolAnnotations(destructive_hint=True, read_only_hint=True))
def peek(path: str) -> str:
    """Read a file (annotated destructive but read-only: the hints contradict, read-only wins)."""
    return f"peeked at {path}"


@app.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


def main() -> None:
    global RECORD
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--record")
    parser.add_argument("--bad-schema", action="store_true")
    args = parser.parse_args()
    RECORD = Path(args.record) if args.record else None
    if args.bad_schema:
        app.add_tool(lambda x: x, name="broken", description="Its schema is invalid.")
        bad = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
        app._tool_manager.get_tool("broken").parameters = bad  # type: ignore[union-attr]
    if args.stdio:
        app.run("stdio")
    else:
        app.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
