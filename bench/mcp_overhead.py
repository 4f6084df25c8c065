"""Benchmark: the cost of a tool call through our registry versus the MCP SDK directly.

    python -m bench.mcp_overhead [--calls 300] [--warmup 30]

Starts our test MCP server (tests/toolservers/server.py, mcp SDK) over Streamable HTTP on a local
port and over stdio, and @modelcontextprotocol/server-everything over stdio when
tests/node is installed. For each, the same tool is called alternately

- directly: `mcp.Client.call_tool` on an SDK session of its own;
- through the registry: `ToolRegistry.execute(name, json_arguments)`, i.e. argument parsing
  and schema check, timeout, the MCPConnection (probe, retry rule) and result conversion.

Prints a markdown table; overhead = median(registry) - median(direct).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig
from src.toolservers.manager import MCPManager

ROOT = Path(__file__).resolve().parent.parent
OUR_SERVER = ROOT / "tests" / "toolservers" / "server.py"
EVERYTHING = ROOT / "tests" / "node" / "node_modules" / ".bin" / "mcp-server-everything"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


async def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"the test server exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise SystemExit("the test server did not start")


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


async def measure(
    label: str, server: dict[str, Any], tool: str, args: dict[str, Any], calls: int, warmup: int
) -> tuple[str, list[float], list[float]]:
    """(label, direct ms, registry ms), the two kinds of call interleaved."""
    config = MCPFileConfig.model_validate({"mcpServers": {"s": server}})
    target: str | StdioServerParameters = server.get("url") or StdioServerParameters(
        command=server["command"], args=server.get("args", [])
    )
    registry = ToolRegistry()
    manager = MCPManager(config, registry)
    name, arguments = f"s__{tool}", json.dumps(args)
    direct: list[float] = []
    through: list[float] = []
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(Client(target))
        await client.list_tools()
        await manager.start(wait=-1)
        stack.push_async_callback(manager.close)
        if manager.connections["s"].state != "up":
            raise SystemExit(f"{label}: {manager.connections['s'].error}")
        for i in range(warmup + calls):
            d = await timed(lambda: client.call_tool(tool, args))
            r = await timed(lambda: registry.execute(name, arguments))
            if i >= warmup:
                direct.append(d)
                through.append(r)
        result = await registry.execute(name, arguments)
        assert not result.is_error, result.content
    return label, direct, through


def spawn_http_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(OUR_SERVER), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(calls: int, warmup: int) -> None:
    port = free_port()
    http = spawn_http_server(port)
    rows = []
    try:
        await wait_listening(port, http)
        add = ("add", {"a": 2, "b": 3})
        stdio = {"command": sys.executable, "args": [str(OUR_SERVER), "--stdio"]}
        rows.append(
            await measure(
                "Python SDK server, HTTP",
                {"url": f"http://127.0.0.1:{port}/mcp"},
                *add,
                calls,
                warmup,
            )
        )
        rows.append(await measure("Python SDK server, stdio", stdio, *add, calls, warmup))
        if EVERYTHING.exists():
            everything = {"command": str(EVERYTHING), "args": ["stdio"]}
            get_sum = ("get-sum", {"a": 2, "b": 3})
            rows.append(
                await measure("server-everything, stdio", everything, *get_sum, calls, warmup)
            )
    finally:
        http.kill()
        http.wait()

    print(
        f"{calls} calls each (after {warmup} warm-up), direct and registry calls alternated; "
        f"Python {platform.python_version()}, {platform.machine()}\n"
    )
    print("| server | direct median | registry median | overhead | direct p90 | registry p90 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, direct, through in rows:
        d, r = statistics.median(direct), statistics.median(through)
        print(
            f"| {label} | {d:.2f} ms | {r:.2f} ms | {r - d:+.2f} ms | "
            f"{percentile(direct, 90):.2f} ms | {percentile(through, 90):.2f} ms |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    options = parser.parse_args()
    asyncio.run(main(options.calls, options.warmup))
