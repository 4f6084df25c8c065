"""The running bot: runtime + Telegram channel + health server, started and stopped in order.

Start-up waits for Telegram: `application.initialize()` (getMe) is retried under
`INITIALIZE_RETRY` (1 s doubling to 30 s) until it works, the token is refused, or stop is set.
Updates come from getUpdates (`telegram.mode: polling`) or from Telegram's POSTs to the health
server (`webhook`, webhook.py), which queue them locally or in SQS (`queue.type`); with SQS,
this replica's consumer (consumer.py) runs them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from src.channels.telegram.app import build_application
from src.channels.telegram.channel import TelegramChannel
from src.channels.telegram.consumer import Consumer
from src.channels.telegram.poller import FatalPollingError
from src.channels.telegram.webhook import (
    LocalUpdates,
    QueuedUpdates,
    WebhookReceiver,
    set_webhook,
)
from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config
from src.errors import ConversationError
from src.ops.health import HealthServer, Mount, Route
from src.queue.sqs import SQSQueue
from src.retry import Backoff, Retry, failure_of
from src.runtime import Runtime, open_runtime
from src.toolservers.config import MCPFileConfig

logger = logging.getLogger(__name__)

INITIALIZE_RETRY = Retry(on=failure_of(NetworkError), backoff=Backoff(1.0, 30.0))
REPLICA = socket.gethostname()  # /healthz says which replica answered
ACCESS_REFRESH_S = 15.0  # replicas: how often the users added at run time are read again


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
        self.receiver: WebhookReceiver | None = None
        self.consumer: Consumer | None = None

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
        routes: dict[str, Route] = {}
        if self.config.telegram.mode == "webhook":  # up before Telegram is told the URL
            self.receiver = WebhookReceiver(self.config.telegram.webhook, application.bot)
            routes[self.config.telegram.webhook.path] = self.receiver.handle
        if self.config.health.enabled:
            self.health = HealthServer(
                self.config.health.host,
                self.config.health.port,
                self._probe,
                routes,
                self._mounts(),
            )
            await self.health.start()
        if not await self._initialize(application, stop):
            return 0 if stop.is_set() else 1
        try:
            await channel.start()
            if self.receiver is not None:
                return await self._serve_webhook(application, channel, self.receiver, stop)
            return await self._poll(channel, stop)
        finally:
            await application.shutdown()

    def _mounts(self) -> tuple[Mount, ...]:
        """The admin page on the health server, with `admin.enabled` (Jinja2 loads then)."""
        if not self.config.admin.enabled or self.runtime is None:
            return ()
        from src.admin.app import AdminSite

        return (AdminSite(self.runtime, self.clock).mount,)

    async def _poll(self, channel: TelegramChannel, stop: asyncio.Event) -> int:
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

    async def _serve_webhook(
        self,
        application: Application,
        channel: TelegramChannel,
        receiver: WebhookReceiver,
        stop: asyncio.Event,
    ) -> int:
        """Take POSTed updates until `stop`: into the local inbox, or into SQS for every
        replica's consumer (this one's included)."""
        queue: SQSQueue | None = None
        consuming: asyncio.Task[None] | None = None
        refreshing: asyncio.Task[None] | None = None
        code = 0
        try:
            if self.config.queue.type == "sqs":
                queue = SQSQueue(self.config.queue.sqs, self.config.store.dynamodb.region)
                await queue.start()
                self.consumer = Consumer(
                    queue, application, channel.intake, self.config.telegram.max_concurrent_turns
                )
                consuming = asyncio.create_task(self.consumer.run(), name="consumer")
                receiver.updates = QueuedUpdates(queue)
                refreshing = asyncio.create_task(self._refresh_access(), name="access-refresh")
            else:
                receiver.updates = LocalUpdates(application)
            webhook = self.config.telegram.webhook
            register = lambda: set_webhook(application.bot, webhook)  # noqa: E731
            if webhook.url and not await self._call(register, stop):
                return 0 if stop.is_set() else 1
            logger.info("taking updates on %s (%s queue)", webhook.path, self.config.queue.type)
            waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
            if consuming is not None:
                waits.add(consuming)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                if task is not consuming:
                    task.cancel()
            if consuming is not None and consuming.done():
                logger.critical("the queue consumer stopped", exc_info=consuming.exception())
                code = 1
            logger.info("shutting down")
        finally:
            receiver.updates = None  # 503 from now on: Telegram keeps what arrives
            if refreshing is not None:
                refreshing.cancel()
                await asyncio.gather(refreshing, return_exceptions=True)
            if self.consumer is not None:
                self.consumer.stop_receiving()
            if consuming is not None:
                await asyncio.gather(consuming, return_exceptions=True)
            await channel.stop()
            if self.consumer is not None:
                await self.consumer.close()
            if queue is not None:
                await queue.close()
        return code

    async def _refresh_access(self) -> None:
        """Replicas: a user another replica added (or removed) in the chat counts here
        within ACCESS_REFRESH_S."""
        assert self.runtime is not None
        while True:
            await self.clock.sleep(ACCESS_REFRESH_S)
            try:
                await self.runtime.access.load()
            except ConversationError as exc:
                logger.warning("cannot read the users added at run time: %s", exc)

    async def _call(self, call: Callable[[], Awaitable[None]], stop: asyncio.Event) -> bool:
        """One Bot API call at start-up, retried while Telegram cannot be reached."""

        async def once() -> bool:
            await call()
            return True

        def note(error: BaseException, _attempts: int, wait: float) -> None:
            logger.warning("cannot reach Telegram (%s); retrying in %.0f s", error, wait)

        return bool(await INITIALIZE_RETRY.call(once, clock=self.clock, stop=stop, on_retry=note))

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
        await self.runtime.storage.ping()
        busy = self.channel.lanes.busy if self.channel else 0
        status: dict[str, object] = {"replica": REPLICA, "pid": os.getpid()}
        if self.receiver is None:
            polling = self.channel is not None and self.channel.poller.healthy
            status.update(ok=polling, polling=polling, consuming=polling)
        else:
            receiving = self.receiver.updates is not None
            consuming = self.consumer.consuming if self.consumer is not None else receiving
            status.update(ok=receiving and consuming, receiving=receiving, consuming=consuming)
        return {**status, "store": "ok", "busy_conversations": busy}
