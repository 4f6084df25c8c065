"""A small load balancer for the replica tests: each POST goes to the next backend in turn,
with its headers (the webhook's secret token); a backend that does not answer is a 502, so
the sender (the fake Telegram) retries, and the retry goes to the next one."""

from __future__ import annotations

import itertools
from types import TracebackType

import aiohttp
from aiohttp import web

from tests.peers.serve import ServerThread

_HOP = {"host", "content-length", "transfer-encoding", "connection"}


class RoundRobin:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        self.forwarded: list[tuple[int, int]] = []  # (backend index, status)
        self._session: aiohttp.ClientSession | None = None
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        self._server = ServerThread(app)
        self.url = ""

    def __enter__(self) -> RoundRobin:
        self.url = self._server.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()

    async def _open(self, _: web.Application) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._session is not None
        index = next(self._next)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        target = f"{self.backends[index]}/{request.match_info['path']}"
        try:
            async with self._session.post(target, data=body, headers=headers) as response:
                status, answer = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status, answer = 502, b"bad gateway"
        self.forwarded.append((index, status))
        return web.Response(status=status, body=answer)
