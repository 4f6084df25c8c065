"""Run an aiohttp application in a background thread, plus small polling helpers.

Fake peers (Telegram, OpenAI-compatible LLM, ...) are aiohttp apps served on
127.0.0.1 with an OS-assigned port, each in its own daemon thread with its own event
loop, so that the code under test can talk to them over a real socket no matter which
loop (or process) it runs in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

logger = logging.getLogger(__name__)

__all__ = ["ServerThread", "wait_until", "wait_until_sync"]


class ServerThread:
    """Serve ``app`` on ``127.0.0.1:<free port>`` from a daemon thread.

    Usage::

        with ServerThread(app) as url:
            ...  # url == "http://127.0.0.1:PORT"
    """

    def __init__(
        self, app: web.Application, host: str = "127.0.0.1", shutdown_timeout: float = 2.0
    ) -> None:
        self.app = app
        self.host = host
        self.shutdown_timeout = shutdown_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("server is not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> str:
        """Start serving; block until the socket is listening and return the base URL."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._thread = threading.Thread(
            target=self._run, name=f"ServerThread-{id(self):x}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("server thread did not start in time")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError("server failed to start") from self._error
        logger.debug("serving %s at %s", self.app, self.url)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the runner down cleanly and join the thread. Idempotent."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop_event.set)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError("server thread did not stop in time")
        self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- thread body --------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() if it happens before ready
            self._error = exc
            if self._ready.is_set():
                logger.exception("server thread crashed")
        finally:
            self._ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=self.shutdown_timeout
        )
        self._runner = runner
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
            addresses = runner.addresses
            if not addresses:
                raise RuntimeError("no listening socket")
            self._port = int(addresses[0][1])
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()
            self._runner = None


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.02,
    message: str | None = None,
) -> None:
    """Poll ``predicate`` (with ``asyncio.sleep``) until true; ``AssertionError`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def wait_until_sync(
    predicate: Callable[[], bool],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | None = None,
) -> None:
    """Blocking twin of :func:`wait_until` (uses ``time.sleep``)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)
