"""Our own getUpdates loop: an update is confirmed (offset moved past it) only after the
batch that holds it has been handed to `process`, which stores it durably first.

A failed getUpdates is retried under `POLL_RETRY` (src/retry.py): Telegram's retry_after when
it asks for one, else 1 s doubling to 30 s; `stop()` ends a wait at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from src.channels.telegram.sender import retry_after_hint
from src.clock import SYSTEM_CLOCK, Clock
from src.errors import FatalPollingError
from src.retry import Backoff, Retry, failure_of

logger = logging.getLogger(__name__)

# Button presses (approvals, reminders' cancel buttons) are callback queries.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

# Conflict: another process polls with this token. NetworkError includes BadRequest and TimedOut.
POLL_RETRY = Retry(
    on=failure_of(RetryAfter, Conflict, NetworkError),
    backoff=Backoff(1.0, 30.0),
    hint=retry_after_hint,
)


class Poller:
    def __init__(
        self,
        bot: Bot,
        process: Callable[[Sequence[Update]], Awaitable[None]],
        timeout_s: int = 30,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.bot = bot
        self.clock = clock
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
        return self.clock.monotonic() - self.last_success < self.timeout_s + 60

    def stop(self) -> None:
        self._stop.set()
        if self._request is not None:
            self._request.cancel()  # a long poll in flight ends now

    async def run(self) -> None:
        """Poll until stopped. Raises FatalPollingError when Telegram refuses the token."""
        while not self._stop.is_set():
            try:
                updates = await POLL_RETRY.call(
                    self._poll, clock=self.clock, stop=self._stop, on_retry=_log_retry
                )
            except (InvalidToken, Forbidden) as exc:
                raise FatalPollingError(f"Telegram refused the bot token: {exc.message}") from exc
            if updates is None:
                break
            self.last_success = self.clock.monotonic()
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


def _log_retry(error: BaseException, _attempts: int, wait: float) -> None:
    if isinstance(error, Conflict):
        logger.error("another process is polling with this bot token; retrying in %.0f s", wait)
    elif isinstance(error, NetworkError):
        logger.warning("getUpdates failed (%s); retrying in %.0f s", error.message, wait)
