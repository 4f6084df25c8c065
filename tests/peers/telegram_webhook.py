"""Webhook delivery for the fake Telegram (tests/peers/telegram_server.py), as Telegram does it.

After setWebhook, pending updates are POSTed as JSON to the URL with the
`X-Telegram-Bot-Api-Secret-Token` header; an update leaves the queue only when the answer is
200, else it is posted again after a short wait (Telegram waits longer; tests want speed).
One conversation's updates go one at a time, in order; different chats go in parallel, up to
`max_connections` (Telegram's default is 40). getUpdates is refused with 409 meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from tests.peers.telegram_server import FakeTelegram

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0


@dataclass(frozen=True)
class Post:
    """One POST of an update to the webhook and its outcome (status 0: no answer)."""

    update_id: int
    status: int
    time: float


@dataclass
class Hook:
    url: str
    secret_token: str
    allowed_updates: list[str]
    max_connections: int
    last_error: str = ""
    last_error_date: int = 0


def chat_key(update: JSON) -> object:
    """The chat whose updates must keep their order (the update itself when it has none)."""
    for kind in ("message", "edited_message"):
        message = update.get(kind)
        if isinstance(message, dict):
            return message.get("chat", {}).get("id")
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        return query["message"].get("chat", {}).get("id")
    return ("update", update["update_id"])


def _finished(
    sending: dict[object, asyncio.Task[None]], key: object, wake: asyncio.Event, _: object
) -> None:
    sending.pop(key, None)
    wake.set()


class WebhookDelivery:
    """Posts `telegram`'s pending updates to the hook; runs in the fake server's loop."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram
        self.hook: Hook | None = None  # guarded by telegram's lock
        self.posts: list[Post] = []  # guarded by telegram's lock
        self._task: asyncio.Task[None] | None = None

    def set(self, params: JSON) -> None:  # lock held, server loop
        url = str(params.get("url") or "")
        if not url:
            self.hook = None
            return
        allowed = params.get("allowed_updates")
        self.hook = Hook(
            url=url,
            secret_token=str(params.get("secret_token") or ""),
            allowed_updates=list(allowed) if isinstance(allowed, list) else [],
            max_connections=int(params.get("max_connections") or 40),
        )
        if params.get("drop_pending_updates") is True:
            self.telegram._pending.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:  # server loop, at shutdown
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def info(self) -> JSON:  # lock held
        hook = self.hook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.telegram._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["allowed_updates"] = hook.allowed_updates
            if hook.last_error:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error
        return info

    async def _run(self) -> None:
        sending: dict[object, asyncio.Task[None]] = {}
        wake = asyncio.Event()
        self.telegram._waiters.add(wake)
        try:
            async with aiohttp.ClientSession() as session:
                while True:
                    with self.telegram._lock:
                        hook = self.hook
                        if hook is None or self.telegram._closing:
                            break
                        firsts: dict[object, JSON] = {}
                        for update in self.telegram._pending:  # sorted by update_id
                            firsts.setdefault(chat_key(update), update)
                    for key, update in firsts.items():
                        if key in sending or len(sending) >= hook.max_connections:
                            continue
                        task = asyncio.create_task(self._post(session, hook, update))
                        sending[key] = task
                        task.add_done_callback(partial(_finished, sending, key, wake))
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), 0.2)
                    except TimeoutError:
                        pass
        finally:
            self.telegram._waiters.discard(wake)
            for task in list(sending.values()):
                task.cancel()

    async def _post(self, session: aiohttp.ClientSession, hook: Hook, update: JSON) -> None:
        uid = update["update_id"]
        failures = sum(1 for p in self.posts if p.update_id == uid and p.status != 200)
        if failures:
            await asyncio.sleep(min(RETRY_FIRST_S * 2 ** (failures - 1), RETRY_MAX_S))
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        status, error = 0, ""
        try:
            async with session.post(
                hook.url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
            ) as response:
                status = response.status
                error = f"Wrong response from the webhook: {status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}"
        telegram = self.telegram
        with telegram._lock:
            self.posts.append(Post(uid, status, time.monotonic()))
            if status == 200:
                telegram._pending = [u for u in telegram._pending if u["update_id"] != uid]
                telegram._delivered_at.setdefault(uid, time.monotonic())
            elif self.hook is hook:
                hook.last_error, hook.last_error_date = error, int(time.time())
