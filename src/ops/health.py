"""GET /healthz and GET /metrics on health.host:health.port, in the bot's own event loop;
in webhook mode also the POST route Telegram delivers updates to (`routes`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from src.errors import ConversationError

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[dict[str, object]]]
Mount = Callable[[web.Application], None]  # adds more pages (the admin page) before start
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]  # a POST route
_PROBE_TIMEOUT_S = 3.0


class HealthServer:
    """`probe` returns a JSON-able status and raises (or returns ok=False) when unhealthy."""

    def __init__(
        self,
        host: str,
        port: int,
        probe: Probe,
        routes: dict[str, Route] | None = None,
        mounts: tuple[Mount, ...] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.probe = probe
        self.routes = dict(routes or {})
        self.mounts = mounts
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        for path, handler in self.routes.items():
            app.router.add_post(path, handler)
        for mount in self.mounts:
            mount(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("health server on http://%s:%d/healthz", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                status = await self.probe()
        except (ConversationError, TimeoutError) as exc:
            status = {"ok": False, "error": str(exc) or type(exc).__name__}
        code = 200 if status.get("ok") else 503
        return web.json_response(status, status=code)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
