"""Our own MCP test server, built with the mcp SDK: tools that misbehave on purpose.

    python tests/toolservers/server.py --port 8123 [--record calls.txt]    # Streamable HTTP
    python tests/toolservers/server.py --stdio [--record calls.txt]        # stdio

`--record` appends one line per call of `record` (to prove a call was not sent twice);
`chart` returns a real PNG image and `export` an embedded resource (files for the user);
`--bad-schema` adds a tool `broken` whose input schema is invalid. `wipe` is annotated
destructive, `peek` destructive but read-only (for mcp.yml `confirm: destructive`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import struct
import zlib
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import (
    BlobResourceContents,
    EmbeddedResource,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
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


def png(pad_to: int = 0) -> bytes:
    """A valid 2x2 PNG; `pad_to` adds a private ancillary chunk until it has that many bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\xff\x00" * 2)
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
    tail = chunk(b"IEND", b"")
    room = pad_to - len(head) - len(tail) - 12
    padding = chunk(b"prVt", os.urandom(room)) if room > 0 else b""
    return head + padding + tail


@app.tool()
def chart(pad_to: int = 0) -> list[TextContent | Image]:
    """A chart as a PNG image (`pad_to`: that many bytes)."""
    return [TextContent(type="text", text="Here is the chart."), Image(data=png(pad_to))]


@app.tool()
def export(kind: str = "blob") -> EmbeddedResource:
    """A file as an embedded resource: "blob" (a CSV, base64) or "text" (a note)."""
    if kind == "text":
        text = TextResourceContents(
            uri="notes://today/notes", mime_type="text/plain", text="buy milk"
        )
        return EmbeddedResource(type="resource", resource=text)
    rows = base64.b64encode(b"month,sales\njan,10\nfeb,12\n").decode()
    blob = BlobResourceContents(uri="file:///reports/sales.csv", mime_type="text/csv", blob=rows)
    return EmbeddedResource(type="resource", resource=blob)


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
