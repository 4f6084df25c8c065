"""Local DynamoDB peers: moto in server mode, dynalite (npm), and a proxy that misbehaves.

Each server runs as a child process on a free loopback port, started once per test session
(`shared_endpoint`) and stopped at exit. Tests point boto3 at one with `use_endpoint`, which
sets fake credentials and `AWS_ENDPOINT_URL_DYNAMODB` (boto3 reads it; our code does not).

`DynamoDBProxy` stands in front of a server: neither server throttles or fails, so the proxy
answers chosen calls with ProvisionedThroughputExceededException, forwards a call but loses
its answer (the client sees a 500 and retries a write that already happened), or processes
only part of a BatchWriteItem and returns the rest as UnprocessedItems.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web

from tests.peers.serve import ServerThread

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
DYNALITE = ROOT / "tests" / "node" / "node_modules" / ".bin" / "dynalite"
REGION = "us-east-1"
_AWS_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")

Kind = Literal["moto", "dynalite"]
Action = Literal["forward", "throttle", "lose_answer", "unprocess_half", "unavailable"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """A DynamoDB-compatible server as a child process."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if kind == "moto":
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        else:
            if not DYNALITE.exists():
                raise RuntimeError(
                    f"dynalite is not installed ({DYNALITE} is missing): run scripts/test.sh, "
                    "which runs `npm ci` in tests/node"
                )
            command = [str(DYNALITE), "--host", "127.0.0.1", "--port", str(self.port)]
            command += ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_listening(timeout=30)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self._log.seek(0)
        output = self._log.read().decode("utf-8", "replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.kind} did not start on port {self.port}:\n{output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


_shared: dict[str, LocalServer] = {}


def shared_endpoint(kind: Kind) -> str:
    """The URL of this session's server of `kind`, started on first use."""
    if kind not in _shared:
        if not _shared:
            atexit.register(_stop_shared)
        _shared[kind] = LocalServer(kind)
    return _shared[kind].url


def _stop_shared() -> None:
    for server in _shared.values():
        server.stop()
    _shared.clear()


def aws_env(endpoint: str) -> dict[str, str]:
    """Fake credentials and the endpoint, as a bot process or boto3 would read them."""
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    for name in _AWS_UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)


def raw_client(endpoint: str) -> Any:
    """A plain boto3 client for looking at items directly (call it from a thread)."""
    import boto3

    return boto3.session.Session().client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


class DynamoDBProxy:
    """Forwards DynamoDB calls to `upstream`, except where `decide(operation, n)` (n: how many
    calls of that operation it has seen, this one included) says otherwise."""

    def __init__(self, upstream: str, serialize: frozenset[str] = frozenset()) -> None:
        self.upstream = upstream
        # Operations forwarded one at a time (moto's SQS ReceiveMessage: see tests/peers/sqs.py)
        self.serialize = serialize
        self._one_at_a_time: asyncio.Lock | None = None
        self.decide: Callable[[str, int], Action] = lambda operation, n: "forward"
        self.seen: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (operation, request body)
        self.done: Counter[Action] = Counter()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/", self._handle)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        self._server = ServerThread(app)
        self.url = ""

    def __enter__(self) -> DynamoDBProxy:
        self.url = self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    async def _open(self, _: web.Application) -> None:
        self._session = aiohttp.ClientSession()
        self._one_at_a_time = asyncio.Lock()

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        try:
            body = await request.read()
        except ConnectionResetError:  # the client went away (a bot process stopped)
            return web.Response(status=499)
        self.seen[operation] += 1
        self.requests.append((operation, json.loads(body or b"{}")))
        action = self.decide(operation, self.seen[operation])
        self.done[action] += 1
        if action == "throttle":
            error = {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was "
                "exceeded. Consider increasing your provisioning level.",
            }
            return _json_response(400, error)
        if action == "unavailable":  # nothing forwarded: the service is down
            return _json_response(503, {"__type": "ServiceUnavailable", "message": "down"})
        unprocessed: list[Any] = []
        if action == "unprocess_half" and operation == "BatchWriteItem":
            body, unprocessed = _keep_half(body)
        if operation in self.serialize:
            status, answer, headers = await self._one_at_a_time_polled(request, body)
        else:
            status, answer, headers = await self._forward(request, body)
        if action == "lose_answer":
            return _json_response(500, {"__type": "InternalServerError", "message": "lost"})
        if unprocessed and status == 200:
            data = json.loads(answer)
            table = next(iter(json.loads(body)["RequestItems"]))
            data.setdefault("UnprocessedItems", {}).setdefault(table, []).extend(unprocessed)
            return _json_response(200, data)
        return web.Response(status=status, body=answer, headers=headers)

    async def _one_at_a_time_polled(
        self, request: web.Request, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Forward one call at a time; a long poll (`WaitTimeSeconds`) becomes short polls
        every 20 ms until something comes or the wait is over, so that the lock is held
        only for one short call."""
        assert self._one_at_a_time is not None
        data = json.loads(body or b"{}")
        deadline = time.monotonic() + float(data.get("WaitTimeSeconds", 0) or 0)
        short = json.dumps({**data, "WaitTimeSeconds": 0}).encode()
        while True:
            async with self._one_at_a_time:
                status, answer, headers = await self._forward(request, short)
            if status != 200 or time.monotonic() >= deadline or json.loads(answer).get("Messages"):
                return status, answer, headers
            await asyncio.sleep(0.02)

    async def _forward(
        self, request: web.Request, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        assert self._session is not None
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        async with self._session.post(self.upstream, data=body, headers=headers) as response:
            answer = await response.read()
            keep = {"content-type", "x-amz-crc32", "x-amzn-requestid"}
            out = {k: v for k, v in response.headers.items() if k.lower() in keep}
            return response.status, answer, out


def _keep_half(body: bytes) -> tuple[bytes, list[Any]]:
    request = json.loads(body)
    table, writes = next(iter(request["RequestItems"].items()))
    keep = max(1, len(writes) // 2)
    request["RequestItems"][table] = writes[:keep]
    return json.dumps(request).encode(), writes[keep:]


def _json_response(status: int, data: Any) -> web.Response:
    body = json.dumps(data).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amz-crc32": str(zlib.crc32(body) & 0xFFFFFFFF),
    }
    return web.Response(status=status, body=body, headers=headers)
