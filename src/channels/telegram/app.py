"""The python-telegram-bot Application: base URLs from config, no updater (the channel polls
itself, see poller.py), the message rate limiter, the aiohttp network backend."""

from __future__ import annotations

from telegram.ext import Application, ApplicationBuilder

from src.channels.telegram.aiohttp_request import AiohttpRequest
from src.channels.telegram.ratelimit import MessageRateLimiter
from src.config import Config


def build_application(config: Config) -> Application:
    base = config.telegram.api_base_url.rstrip("/")
    return (
        ApplicationBuilder()
        .token(config.telegram.bot_token.get_secret_value())
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .updater(None)
        .rate_limiter(
            # `rate` messages a second, in bursts of at most a tenth of that: the small burst
            # absorbs event-loop jitter, so the average really reaches `rate`.
            MessageRateLimiter(
                overall_max_rate=max(1.0, config.telegram.max_messages_per_second / 10),
                overall_time_period=0.1,
                max_retries=5,
            )
        )
        .request(AiohttpRequest())
        # One connection for getUpdates; its read timeout is set per call by the poller.
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
