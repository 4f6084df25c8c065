"""Self-test of the fake Telegram's webhook delivery (telegram_webhook.py) with the real
python-telegram-bot ``Bot`` and a real aiohttp receiver: the secret header, 409 for
getUpdates while a webhook is set, a retry until 200, one chat in order, deleteWebhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import Conflict

from tests.peers.serve import ServerThread, wait_until
from tests.peers.telegram_server import FakeTelegram


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
    async with bot:
        yield bot


class Receiver:
    """A webhook endpoint that refuses the first `refuse` requests with 500."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.seen: list[tuple[str | None, dict[str, Any]]] = []
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = ServerThread(app)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=500)
        return web.Response(status=200)


async def test_updates_are_posted_with_the_secret_and_retried_until_200(
    tg: FakeTelegram, bot: Bot
) -> None:
    receiver = Receiver(refuse=2)
    url = receiver.server.start()
    try:
        assert await bot.set_webhook(
            f"{url}/hook", secret_token="s3cret", drop_pending_updates=False
        )
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        first = tg.push_message(42, "one")
        second = tg.push_message(42, "two")
        await wait_until(lambda: len(tg.webhook_posts()) >= 4, 10)
        assert [(p.update_id, p.status) for p in tg.webhook_posts()] == [
            (first, 500),
            (first, 500),
            (first, 200),
            (second, 200),
        ]  # the second waits for the first: one chat in order
        assert {secret for secret, _ in receiver.seen} == {"s3cret"}
        info = await bot.get_webhook_info()
        assert info.url == f"{url}/hook" and info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )

        assert await bot.delete_webhook()
        tg.push_message(42, "polled again")
        await asyncio.sleep(0.3)
        assert len(receiver.seen) == 4
        polled = await bot.get_updates(timeout=0)
        assert [u.message.text for u in polled if u.message] == ["polled again"]
    finally:
        receiver.server.stop()
