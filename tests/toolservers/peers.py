"""MCP servers for tests, as real child processes on local ports: started, killed, restarted.

- `@modelcontextprotocol/server-everything` (npm, pinned in tests/node; scripts/test.sh installs
  it), over Streamable HTTP (`PORT` picks the port) or stdio;
- our own misbehaving server, tests/toolservers/server.py (mcp SDK);
- a "silent" port that accepts connections and never answers (a hung server).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import ROOT, free_port

EVERYTHING = ROOT / "tests" / "node" / "node_modules" / ".bin" / "mcp-server-everything"
OUR_SERVER = ROOT / "tests" / "toolservers" / "server.py"


def everything_command() -> str:
    if not EVERYTHING.exists():
        pytest.fail(
            "@modelcontextprotocol/server-everything is not installed: run scripts/test.sh "
            "(it runs `npm ci` in tests/node)",
            pytrace=False,
        )
    return str(EVERYTHING)


def our_stdio_server(record: Path | None = None) -> dict[str, object]:
    """mcp.yml entry that runs our test server over stdio."""
    args = [str(OUR_SERVER), "--stdio", *(["--record", str(record)] if record else [])]
    return {"command": sys.executable, "args": args}


class ServerProcess:
    """One MCP server child process on a fixed port, so it can be killed and started again."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self, timeout: float = 30) -> ServerProcess:  # noqa: ASYNC109
        """Start (or start again) and wait until the port accepts connections."""
        self.process = self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"MCP server exited with {self.process.returncode}:\n{self.log}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return self
        raise AssertionError(f"MCP server did not listen on {self.port}:\n{self.log}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


class SilentPort:
    """Accepts TCP connections (the kernel's backlog) and never answers: a hung server."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = int(self.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> None:
        self.socket.close()


class MCPPeers:
    """Creates the servers a test needs and stops them all at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._servers: list[ServerProcess] = []
        self._silent: list[SilentPort] = []

    async def everything(self) -> ServerProcess:
        port = free_port()
        log = self.tmp_path / f"everything-{port}.log"
        server = ServerProcess(
            [everything_command(), "streamableHttp"], {"PORT": str(port)}, log, port
        )
        self._servers.append(server)
        return await server.start()

    async def ours(
        self, record: Path | None = None, port: int | None = None, bad_schema: bool = False
    ) -> ServerProcess:
        port = port or free_port()
        argv = [sys.executable, str(OUR_SERVER), "--port", str(port)]
        if record is not None:
            argv += ["--record", str(record)]
        if bad_schema:
            argv.append("--bad-schema")
        server = ServerProcess(argv, {}, self.tmp_path / f"ours-{port}.log", port)
        self._servers.append(server)
        return await server.start()

    def silent(self) -> SilentPort:
        port = SilentPort()
        self._silent.append(port)
        return port

    def close(self) -> None:
        for server in self._servers:
            server.kill()
        for port in self._silent:
            port.close()
