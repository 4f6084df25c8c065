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
            # One message every 1/`rate` seconds and no bursts: a bucket that held more would
            # let a full bucket through at once on top of the steady rate, and any one second
            # would then see more than `rate` messages (Telegram's limit is per second).
            MessageRateLimiter(
                overall_max_rate=1,
                overall_time_period=1 / config.telegram.max_messages_per_second,
                max_retries=5,
            )
        )
        .request(AiohttpRequest())
        # One connection for getUpdates; its read timeout is set per call by the poller.
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
