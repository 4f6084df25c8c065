"""A bot with the admin page on, and an HTTP client that signs in to it like a browser would
(cookies kept, the forms' CSRF tokens read from the pages)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from src.conversation.message import Message
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner, InProcessBot

TOKEN = "correct-horse-battery-staple-0042"
ADMIN = 9001
ADDED = 5150  # a user added at run time (by /allow), so the page can deny them
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def start_admin_bot(
    bots: BotRunner, clock: TestClock | None = None, **overrides: Any
) -> InProcessBot:
    bots.extra_env["ADMIN_TOKEN"] = TOKEN
    settings: dict[str, Any] = {
        "admin": {"enabled": True},
        "telegram": {"allowed_user_ids": [OWNER], "admin_user_ids": [ADMIN]},
    }
    for key, value in overrides.items():
        settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
    bot = await bots.start(clock=clock or TestClock(), **settings)
    return bot


def runtime_of(bot: InProcessBot) -> Any:
    runtime = bot.service.runtime
    assert runtime is not None
    return runtime


async def seed(bot: InProcessBot, conversation_id: str, *messages: Message) -> None:
    """Write a history through the running bot's own store."""
    await runtime_of(bot).storage.conversations.append_messages(conversation_id, list(messages))


class AdminClient:
    def __init__(self, port: int, path: str = "/admin") -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.base = f"{self.origin}{path}"
        # unsafe: keep cookies of an IP address host (127.0.0.1), as browsers do
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()

    async def get(self, path: str, **params: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(
            self.base + path, params=params, allow_redirects=False
        ) as response:
            text = await response.text()
            found = _CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return response.status, text, response

    async def post(
        self, path: str, data: dict[str, str], csrf: str | None = None, **headers: str
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        form = {"csrf": self.csrf if csrf is None else csrf, **data}
        async with self.session.post(
            self.base + path, data=form, allow_redirects=False, headers=headers
        ) as response:
            return response.status, await response.text(), response

    async def sign_in(self, token: str = TOKEN) -> tuple[int, str, aiohttp.ClientResponse]:
        await self.get("/login")
        return await self.post("/login", {"token": token})
