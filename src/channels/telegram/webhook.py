"""Webhook mode (telegram.mode: webhook): Telegram POSTs each update to the health server.

A request must carry the configured `X-Telegram-Bot-Api-Secret-Token` (compared in constant
time) or it gets 403 and nothing happens. The answer is 200 only once the update is durably
queued: in the local inbox (`LocalUpdates`: the same handlers as polling store it) or in the
SQS FIFO queue (`QueuedUpdates`). Anything else is a 5xx, and Telegram retries the update.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Protocol

from aiohttp import web
from telegram import Bot, Update
from telegram.ext import Application

from src.channels.telegram.ids import conversation_id
from src.channels.telegram.poller import ALLOWED_UPDATES
from src.config import Config, WebhookConfig
from src.ops import metrics
from src.queue.sqs import SQSQueue

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LOCAL_TIMEOUT_S = 30.0  # the inbox did not take the update in time: 503, Telegram retries


class Updates(Protocol):
    async def put(self, update: Update, data: dict[str, Any]) -> None:
        """Queue one update durably; raise when it is not."""


class LocalUpdates:
    """The local queue: the handlers store the update in the inbox, as when polling."""

    def __init__(self, application: Application, timeout_s: float | None = None) -> None:
        self.application = application
        self.timeout_s = timeout_s

    async def put(self, update: Update, data: dict[str, Any]) -> None:
        metrics.record_update(1)
        async with asyncio.timeout(self.timeout_s or LOCAL_TIMEOUT_S):
            await self.application.process_update(update)


class QueuedUpdates:
    """The SQS queue: one message per update, its conversation the group, its id the
    deduplication id. The replicas' consumers (consumer.py) run the handlers."""

    def __init__(self, queue: SQSQueue) -> None:
        self.queue = queue

    async def put(self, update: Update, data: dict[str, Any]) -> None:
        metrics.record_update(1)
        body = json.dumps(data, separators=(",", ":"))
        await self.queue.send(body, group_of(update), str(update.update_id))


def group_of(update: Update) -> str:
    """The update's conversation (its FIFO message group): one conversation in order. A
    button press has a group of its own per chat: the turn it answers (an approval question)
    holds the conversation's group in flight until it is over."""
    message = update.effective_message
    if update.callback_query is not None:
        where = conversation_id(message) if message is not None else "unknown"
        return f"{where}:press"
    if message is not None:
        return conversation_id(message)
    chat = update.effective_chat
    return str(chat.id) if chat is not None else f"update-{update.update_id}"


class WebhookReceiver:
    """The aiohttp handler of `telegram.webhook.path`. `updates` is None until the channel is
    ready (and again while it stops): 503 then, so Telegram keeps the update."""

    def __init__(self, config: WebhookConfig, bot: Bot) -> None:
        self._secret = config.secret_token.get_secret_value().encode()
        self.bot = bot
        self.updates: Updates | None = None

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret):
            logger.warning("webhook: refused a request without the right secret token")
            return web.Response(status=403, text="forbidden")
        updates = self.updates
        if updates is None:
            return web.Response(status=503, text="not ready")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        update = Update.de_json(data, self.bot)
        try:
            await updates.put(update, data)
        except Exception as exc:  # Telegram retries a 5xx: nothing is lost
            logger.error("webhook: update %s not queued (%s); 503", data["update_id"], exc)
            return web.Response(status=503, text="not queued")
        return web.Response(status=200)


async def set_webhook(bot: Bot, config: WebhookConfig) -> None:
    """setWebhook with the secret, the update types, and the pending updates kept."""
    await bot.set_webhook(
        url=config.url,
        secret_token=config.secret_token.get_secret_value(),
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=False,
    )
    logger.info("webhook set to %s", config.url)


async def check_webhook(config: Config) -> tuple[bool | None, str]:
    """--check: getWebhookInfo with the configured token, as `describe_webhook` says it."""
    from telegram.error import TelegramError

    from src.channels.telegram.app import build_application

    bot = build_application(config).bot
    try:
        async with bot:
            return await describe_webhook(bot, config.telegram.webhook)
    except TelegramError as exc:
        return False, f"getWebhookInfo failed: {exc}"


async def describe_webhook(bot: Bot, config: WebhookConfig) -> tuple[bool | None, str]:
    """getWebhookInfo as one line for --check: whether it is set as configured (None: not
    set yet, a note), and what Telegram says of it (pending updates, last delivery error)."""
    info = await bot.get_webhook_info()
    if not info.url:
        return None, "no webhook is set (the bot sets telegram.webhook.url at start-up)"
    detail = f"webhook {info.url}: {info.pending_update_count} update(s) pending"
    if info.last_error_message:
        detail += f"; last error: {info.last_error_message}"
    if config.url and info.url != config.url:
        return False, f"{detail} (telegram.webhook.url is {config.url})"
    return True, detail
