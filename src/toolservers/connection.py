"""One MCP server: its session, kept up in the background, and tool calls on it.

A supervisor task owns the `mcp.Client` (anyio scopes must be entered and left by one task):
it connects, lists the tools, hands them to the manager, and waits until the session ends;
then it reconnects, at once after a session that worked, else with backoff (src/retry.py;
`RECONNECT_BACKOFF`, 1 s doubling to 60 s). A call on a server that is down wakes the
supervisor for one immediate attempt.

A call is sent again once, after a reconnect, only when it never reached the server (the
connection was refused, or the server no longer knew our session); a call the server may have
run is never repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolResult, Implementation
from pydantic import ValidationError

from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ToolError
from src.retry import Backoff, Retry, failure_of
from src.toolservers.config import MCPServerConfig
from src.toolservers.transport import (
    ConnectionLost,
    describe_error,
    end_probe,
    open_transport,
    start_probe,
)

logger = logging.getLogger(__name__)

CLIENT_INFO = Implementation(name="telegram-assistant", version="0.1.0")
MAX_TOOL_PAGES = 100
CLOSE_TIMEOUT_S = 5.0
RECONNECT_BACKOFF = Backoff(1.0, 60.0)


@dataclass(frozen=True)
class ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    destructive: bool = False  # annotated destructiveHint and not readOnlyHint


class MCPConnection:
    def __init__(
        self,
        name: str,
        config: MCPServerConfig,
        on_tools: Callable[[MCPConnection, list[ListedTool]], None],
        backoff: Backoff = RECONNECT_BACKOFF,
        retry_gap_s: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.config = config
        self.state = "connecting"  # connecting (first attempt) | up | down | closed
        self.error: str | None = None
        self.attempts = 0
        self.first_attempt = asyncio.Event()
        self._on_tools = on_tools
        # A connect attempt that fails (any error; a cancellation only if it is not ours).
        self._reconnect = Retry(on=failure_of(Exception, asyncio.CancelledError), backoff=backoff)
        self._clock = clock
        self._retry_gap = retry_gap_s  # a call on a down server tries again at most this often
        self._client: Client | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._session_end = asyncio.Event()
        self._changed = asyncio.Condition()
        self._last_attempt_end = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def transport(self) -> str:
        return self.config.transport

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.name}")

    async def close(self) -> None:
        """End the session (an up session closes gracefully: stdin closed, DELETE sent),
        or stop connecting / waiting to retry at once."""
        self._closing = True
        self._closed.set()
        self._session_end.set()
        self._wake.set()
        task = self._task
        if task is not None:
            if self._client is None:
                task.cancel()  # connecting or between attempts: nothing to close gracefully
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
            if not done:
                logger.warning("mcp server %s: did not close in time; stopping it", self.name)
                task.cancel()
                await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
            if task.done() and not task.cancelled() and task.exception() is not None:
                logger.error("mcp server %s: failed", self.name, exc_info=task.exception())
        self.state = "closed"
        await self._notify()

    # -- calls --------------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call a tool. Raises ToolError (with a message for the model) for any failure."""
        for attempt in (1, 2):
            client = await self._ready_client()
            probe, token = start_probe()
            try:
                return await client.call_tool(tool, arguments)
            except MCPError as exc:
                transport_failed = exc.code == CONNECTION_CLOSED or probe.session_rejected
                if not transport_failed:
                    raise ToolError(self._refusal(exc, probe.error_status)) from None
                failure: BaseException = exc
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # our caller's timeout or shutdown
                failure = ConnectionLost("the session was cancelled")
            except ValidationError:
                logger.exception("mcp server %s: unusable answer from tool %s", self.name, tool)
                raise ToolError(
                    f"the tool server {self.name} sent an answer I cannot read"
                ) from None
            except Exception as exc:  # the transport failed in a way the SDK did not wrap
                logger.debug("mcp server %s: call failed", self.name, exc_info=True)
                failure = exc
            finally:
                end_probe(token)
            self._restart_session(client)
            # Only HTTP requests are observed on the wire; a stdio call may have been read.
            if attempt == 1 and self.config.url and probe.never_sent:
                why = "our session expired" if probe.session_rejected else "it was not reachable"
                logger.info(
                    "mcp server %s: call to %s never reached the server (%s); reconnecting and "
                    "sending it once more",
                    self.name,
                    tool,
                    why,
                )
                continue
            logger.warning(
                "mcp server %s: connection lost during a call to %s: %s",
                self.name,
                tool,
                describe_error(failure, self.config),
            )
            raise ToolError(
                f"the connection to the tool server {self.name} was lost during the call; "
                "it may or may not have run. Check before trying again."
            )
        raise ToolError(self._unavailable())

    async def _ready_client(self) -> Client:
        if self._client is not None:
            return self._client
        if self._closing:
            raise ToolError(self._unavailable())
        seen = self.attempts  # wait for a connect attempt that ends after this point
        if self.state == "down":
            if self._clock.monotonic() - self._last_attempt_end < self._retry_gap:
                raise ToolError(self._unavailable())
            self._wake.set()  # one attempt now instead of waiting out the backoff
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._client is not None or self.attempts > seen or self._closing
            )
        if self._client is None:
            raise ToolError(self._unavailable())
        return self._client

    def _restart_session(self, client: Client) -> None:
        if self._client is client:
            self._client = None
            self._session_end.set()

    def _unavailable(self) -> str:
        reason = f" ({self.error})" if self.error else ""
        return (
            f"the tool server {self.name} is not available right now{reason}. "
            "Tell the user, or try again later."
        )

    def _refusal(self, exc: MCPError, status: int | None) -> str:
        if status is not None:
            return f"the tool server {self.name} failed (HTTP {status})"
        return f"the tool server {self.name} refused the call: {exc.message[:500]}"

    # -- the session, kept up in the background -----------------------------------------

    async def _supervise(self) -> None:
        while not self._closing:
            # Until a session comes up: attempts with backoff; a call may wake it early.
            came_up = await self._reconnect.call(
                self._session,
                clock=self._clock,
                stop=self._closed,
                wake=self._wake,
                on_retry=self._went_down,
            )
            if came_up is None or self._closing:
                break
            self._wake.clear()  # from here on, a call may ask for an attempt
            logger.warning("mcp server %s: session ended (%s); reconnecting", self.name, self.error)
            await self._notify()
            # The state stays "down" while it tries again: "connecting" is the first attempt.
        self.state = "closed"
        await self._notify()

    async def _went_down(self, error: BaseException, _attempts: int, wait: float) -> None:
        """A connect attempt failed: say so, wake the calls waiting for it, then back off."""
        if isinstance(error, asyncio.CancelledError):
            self.error = "the session was cancelled"  # an SDK scope, not our task
        else:
            self.error = describe_error(error, self.config)
        self._wake.clear()  # from here on, a call may ask for an attempt before the backoff
        self.state = "down"
        self._attempt_done()
        logger.warning(
            "mcp server %s: down (%s); next attempt in %.0f s", self.name, self.error, wait
        )
        await self._notify()

    async def _session(self) -> bool:
        """One session: connect, list, publish, wait for its end. True once it has come up
        and ended; a session that did not come up raises."""
        end = self._session_end = asyncio.Event()
        client = Client(open_transport(self.config, end), client_info=CLIENT_INFO)
        came_up = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                tools = await self._connect(stack, client)
                self._on_tools(self, tools)
                self._client = client
                self.state, self.error, came_up = "up", None, True
                self._attempt_done()
                logger.info("mcp server %s: up with %d tools", self.name, len(tools))
                await self._notify()
                await end.wait()
                self._client = None
                if not self._closing:  # down already while the old session is closed
                    ended = "the server process exited" if self.config.command else "session lost"
                    self.state, self.error = "down", ended
        except Exception as exc:
            if not came_up:
                raise
            if not self._closing:
                self.state, self.error = "down", describe_error(exc, self.config)
        finally:
            self._client = None
        return True

    async def _connect(self, stack: contextlib.AsyncExitStack, client: Client) -> list[ListedTool]:
        probe, token = start_probe()
        try:
            async with asyncio.timeout(self.config.timeout):
                await stack.enter_async_context(client)
                return await _list_tools(client)
        except TimeoutError:
            raise TimeoutError(f"no answer within {self.config.timeout:g} s") from None
        except Exception as exc:
            if probe.error_status is not None:
                raise ConnectionError(f"HTTP {probe.error_status}") from exc
            raise
        finally:
            end_probe(token)

    def _attempt_done(self) -> None:
        """A connect attempt finished (either way): wake the calls waiting for it."""
        self._last_attempt_end = self._clock.monotonic()
        self.attempts += 1
        self.first_attempt.set()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _list_tools(client: Client) -> list[ListedTool]:
    tools: list[ListedTool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(
            ListedTool(
                t.name, t.description or t.title or "", dict(t.input_schema), _destructive(t)
            )
            for t in page.tools
        )
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _destructive(tool: Any) -> bool:
    """The tool's annotations say it may destroy something: destructiveHint true and not
    readOnlyHint true (hints a server gives about its own tools; without them, False)."""
    hints = tool.annotations
    return hints is not None and hints.destructive_hint is True and hints.read_only_hint is not True
