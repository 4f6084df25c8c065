"""How one MCP server is reached: the SDK's Streamable HTTP or stdio transport, watched.

Two things the SDK does not tell us are observed here:
- when the connection has ended (a stdio server that exited, an HTTP transport that failed):
  the read stream ending sets an event, so the connection owner can reconnect at once;
- whether a failed request ever reached the server: an httpx2 transport records, for the
  request's context (contextvars flow from the caller into the SDK's POST tasks), whether a
  connection could not be opened or the server refused our session before running anything.
  Only such a call may be sent again.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx2
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._stream_protocols import ReadStream
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from src.errors import ConnectionLost
from src.toolservers.config import MCPServerConfig

T = TypeVar("T")

SESSION_HEADER = "mcp-session-id"
# A response stream (SSE) may stay quiet while a long tool runs; calls have their own timeout.
STREAM_READ_TIMEOUT_S = 300.0


@dataclass
class RequestProbe:
    """What happened on the wire for the requests sent in one context (one call, one connect)."""

    reached: bool = False  # some request may have been delivered (so the server may have run it)
    refused: bool = False  # a connection could not be opened: nothing was sent
    session_rejected: bool = False  # 404/400 to a request carrying our session id: not run
    statuses: list[int] = field(default_factory=list)

    @property
    def never_sent(self) -> bool:
        return not self.reached

    @property
    def error_status(self) -> int | None:
        return next((s for s in reversed(self.statuses) if s >= 400), None)


_probe: contextvars.ContextVar[RequestProbe | None] = contextvars.ContextVar(
    "mcp_request_probe", default=None
)


def start_probe() -> tuple[RequestProbe, contextvars.Token[RequestProbe | None]]:
    probe = RequestProbe()
    return probe, _probe.set(probe)


def end_probe(token: contextvars.Token[RequestProbe | None]) -> None:
    _probe.reset(token)


class _ProbingTransport(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        probe = _probe.get()
        try:
            response = await self._inner.handle_async_request(request)
        except (httpx2.ConnectError, httpx2.ConnectTimeout):
            if probe is not None:
                probe.refused = True
            raise
        except BaseException:
            if probe is not None:
                probe.reached = True  # the request may have been written before it failed
            raise
        if probe is not None:
            probe.statuses.append(response.status_code)
            rejected = (
                request.method == "POST"
                and SESSION_HEADER in request.headers
                and response.status_code in (400, 404)
            )
            if rejected:
                probe.session_rejected = True
            else:
                probe.reached = True
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _WatchedReadStream(Generic[T]):
    """The SDK's read stream; `ended` is set once the session stops reading from it."""

    def __init__(self, inner: ReadStream[T], ended: asyncio.Event) -> None:
        self._inner = inner
        self._ended = ended

    @property
    def last_context(self) -> contextvars.Context | None:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> T:
        return await self._inner.receive()

    async def aclose(self) -> None:
        self._ended.set()
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            self._ended.set()
            raise

    async def __aenter__(self) -> _WatchedReadStream[T]:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        self._ended.set()
        return await self._inner.__aexit__(exc_type, exc_val, exc_tb)


@asynccontextmanager
async def open_transport(
    config: MCPServerConfig, ended: asyncio.Event
) -> AsyncIterator[tuple[Any, Any]]:
    """The (read, write) streams of one session with the server, for `mcp.Client`."""
    async with AsyncExitStack() as stack:
        if config.url:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=config.headers,
                    timeout=httpx2.Timeout(config.timeout, read=STREAM_READ_TIMEOUT_S),
                    transport=_ProbingTransport(),
                )
            )
            streams = streamable_http_client(config.url, http_client=http)
        else:
            assert config.command is not None
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env or None, cwd=config.cwd
            )
            streams = stdio_client(params)
        read, write = await stack.enter_async_context(streams)
        watched: _WatchedReadStream[SessionMessage | Exception] = _WatchedReadStream(read, ended)
        try:
            yield watched, write
        finally:
            ended.set()


def describe_error(exc: BaseException, config: MCPServerConfig) -> str:
    """A short reason for logs and status lines; never a URL, header or traceback."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx2.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx2.HTTPError):
        return f"HTTP failure ({type(exc).__name__})"
    if isinstance(exc, FileNotFoundError) and config.command:
        return f"command not found: {config.command}"
    if isinstance(exc, PermissionError) and config.command:
        return f"command not executable: {config.command}"
    if isinstance(exc, MCPError):
        return f"server error: {exc.message[:200]}"
    if isinstance(exc, TimeoutError | ConnectionError | ConnectionLost):
        return str(exc)[:200] or type(exc).__name__
    return f"{type(exc).__name__}: {str(exc)[:200]}"
