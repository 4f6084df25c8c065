"""The running bot: runtime + Telegram channel + health server, started and stopped in order.

Start-up waits for Telegram: `application.initialize()` (getMe) is retried under
`INITIALIZE_RETRY` (1 s doubling to 30 s) until it works, the token is refused, or stop is set.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.error import InvalidToken, NetworkError

from src.channels.telegram.app import build_application
from src.channels.telegram.channel import TelegramChannel
from src.channels.telegram.poller import FatalPollingError
from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config
from src.errors import ConversationError
from src.ops.health import HealthServer, Mount
from src.retry import Backoff, Retry, failure_of
from src.runtime import Runtime, open_runtime
from src.toolservers.config import MCPFileConfig

logger = logging.getLogger(__name__)

INITIALIZE_RETRY = Retry(on=failure_of(NetworkError), backoff=Backoff(1.0, 30.0))


class TelegramService:
    def __init__(
        self,
        config: Config,
        mcp: MCPFileConfig | None = None,
        config_file: str = "config.yml",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.clock = clock
        self.mcp = mcp
        self.config_file = config_file
        self.runtime: Runtime | None = None
        self.channel: TelegramChannel | None = None
        self.health: HealthServer | None = None

    async def run(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set (SIGTERM/SIGINT) or polling fails for good. Exit code."""
        try:
            self.runtime = await open_runtime(self.config, self.mcp, self.config_file, self.clock)
        except ConversationError as exc:
            logger.critical("cannot open the conversation store: %s", exc)
            return 1
        try:
            return await self._run(self.runtime, stop)
        finally:
            if self.health is not None:
                await self.health.stop()
            await self.runtime.close()
            logger.info("stopped")

    async def _run(self, runtime: Runtime, stop: asyncio.Event) -> int:
        application = build_application(self.config)
        application.bot_data["tools_report"] = runtime.tools_report  # for /tools
        self.channel = channel = TelegramChannel(
            self.config, runtime.coordinator, application, runtime.access, runtime.scheduler
        )
        if self.config.health.enabled:
            self.health = HealthServer(
                self.config.health.host, self.config.health.port, self._probe, self._mounts()
            )
            await self.health.start()
        if not await self._initialize(application, stop):
            return 0 if stop.is_set() else 1
        try:
            await channel.start()
            poll = asyncio.create_task(channel.poller.run(), name="poller")
            stopped = asyncio.create_task(stop.wait(), name="stop")
            logger.info("polling for updates")
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
            code = 0
            if poll.done() and poll.exception() is not None:
                error = poll.exception()
                if isinstance(error, FatalPollingError):
                    logger.critical("%s", error)
                else:
                    logger.critical("polling stopped", exc_info=error)
                code = 1
            logger.info("shutting down")
            await channel.stop()
            stopped.cancel()
            await asyncio.gather(poll, stopped, return_exceptions=True)
            return code
        finally:
            await application.shutdown()

    def _mounts(self) -> tuple[Mount, ...]:
        """The admin page on the health server, with `admin.enabled` (Jinja2 loads then)."""
        if not self.config.admin.enabled or self.runtime is None:
            return ()
        from src.admin.app import AdminSite

        return (AdminSite(self.runtime, self.clock).mount,)

    async def _initialize(self, application: object, stop: asyncio.Event) -> bool:
        """getMe and friends; retried while Telegram cannot be reached. False: give up."""

        async def initialize() -> bool:
            await application.initialize()  # type: ignore[attr-defined]
            return True

        def note(error: BaseException, _attempts: int, wait: float) -> None:
            logger.warning("cannot reach Telegram (%s); retrying in %.0f s", error, wait)

        try:
            done = await INITIALIZE_RETRY.call(
                initialize, clock=self.clock, stop=stop, on_retry=note
            )
        except InvalidToken:
            logger.critical("Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)")
            return False
        return bool(done)

    async def _probe(self) -> dict[str, object]:
        assert self.runtime is not None
        polling = self.channel is not None and self.channel.poller.healthy
        await self.runtime.storage.ping()
        busy = self.channel.lanes.busy if self.channel else 0
        return {"ok": polling, "polling": polling, "store": "ok", "busy_conversations": busy}
