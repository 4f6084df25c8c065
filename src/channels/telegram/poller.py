"""Our own getUpdates loop: an update is confirmed (offset moved past it) only after the
batch that holds it has been handed to `process`, which stores it durably first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from src.channels.telegram.sender import as_seconds
from src.errors import FatalPollingError

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message"]


class Poller:
    def __init__(
        self,
        bot: Bot,
        process: Callable[[Sequence[Update]], Awaitable[None]],
        timeout_s: int = 30,
    ) -> None:
        self.bot = bot
        self.process = process
        self.timeout_s = timeout_s
        self.offset: int | None = None
        self.last_success: float | None = None  # monotonic time of the last good getUpdates
        self._stop = asyncio.Event()
        self._request: asyncio.Future[tuple[Update, ...]] | None = None

    @property
    def healthy(self) -> bool:
        if self.last_success is None:
            return False
        return time.monotonic() - self.last_success < self.timeout_s + 60

    def stop(self) -> None:
        self._stop.set()
        if self._request is not None:
            self._request.cancel()  # a long poll in flight ends now

    async def run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                updates = await self._poll()
            except RetryAfter as exc:
                await self._sleep(as_seconds(exc.retry_after))
                continue
            except (InvalidToken, Forbidden) as exc:
                raise FatalPollingError(f"Telegram refused the bot token: {exc.message}") from exc
            except Conflict:
                logger.error("another process is polling with this bot token; retrying")
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            except NetworkError as exc:
                logger.warning("getUpdates failed (%s); retrying in %.0f s", exc.message, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if updates is None:
                break
            backoff = 1.0
            self.last_success = time.monotonic()
            if updates:
                await self.process(updates)
                self.offset = updates[-1].update_id + 1

    async def confirm(self) -> None:
        """Tell Telegram about the last offset (on shutdown); everything before is stored."""
        if self.offset is None:
            return
        try:
            await self.bot.get_updates(
                offset=self.offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES
            )
        except Exception as exc:  # best effort: unconfirmed updates are deduplicated later
            logger.info("could not confirm the last updates on shutdown: %s", exc)

    async def _poll(self) -> tuple[Update, ...] | None:
        """One long poll; None when stopped while waiting. The first poll returns at once,
        so health turns green as soon as Telegram has answered."""
        wait = self.timeout_s if self.last_success is not None else 0
        self._request = asyncio.ensure_future(
            self.bot.get_updates(
                offset=self.offset,
                timeout=wait,
                read_timeout=wait + 10,
                allowed_updates=ALLOWED_UPDATES,
            )
        )
        try:
            return await self._request
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise  # this task was cancelled, not just the poll by stop()
            return None
        finally:
            self._request = None

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass
