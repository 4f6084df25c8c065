"""/allow, /deny, /users and /invite through `Coordinator.handle_command` (every channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.access import Access
from src.agents.access_commands import ADMINS_ONLY, AccessCommands
from src.errors import UserInputError
from tests.clock import TestClock
from tests.direct import direct
from tests.peers.openai_server import FakeOpenAI

TELEGRAM: dict[str, Any] = {"allowed_user_ids": [1], "admin_user_ids": [9]}


async def test_the_console_counts_as_an_admin(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, telegram=TELEGRAM) as bot:
        handle = bot.coordinator.handle_command
        assert await handle("console", "/allow -100123", None) == (
            "User -100123 can use the bot now. /deny -100123 takes that back."
        )
        assert bot.coordinator.access.is_allowed(-100123)
        users = await handle("console", "/users", None)
        assert users.splitlines()[-1].startswith("• -100123, added at the console on ")
        reply = await handle("console", "/invite", None)
        assert reply.splitlines()[-1].startswith("/start ")
        with pytest.raises(UserInputError, match=ADMINS_ONLY):
            await handle("1", "/allow 5", 1)  # a user, not an admin
        assert not bot.coordinator.access.is_allowed(5)


@pytest.mark.parametrize("args", ["", "bob", "0", "1 2", "١٢", "12345678901234567"])
async def test_allow_and_deny_take_one_user_id(
    tmp_path: Path, model: FakeOpenAI, args: str
) -> None:
    async with direct(tmp_path, model, telegram=TELEGRAM) as bot:
        for name in ("allow", "deny"):
            with pytest.raises(UserInputError, match=rf"^Usage: /{name} <user id>"):
                await bot.coordinator.handle_command("9", f"/{name} {args}", 9)
        with pytest.raises(UserInputError, match="/users takes no arguments"):
            await bot.coordinator.handle_command("9", "/users all", 9)
        assert bot.coordinator.access.added() == {}


async def test_users_appends_what_each_user_spent(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, telegram=TELEGRAM) as bot:
        access = Access([1], [9], bot.storage.records, clock=TestClock())
        await access.allow(5, by=9, at=1.7e9, name="Bob, @bob")

        async def spend(user_id: int) -> str:
            return f"{user_id * 1000:,} tokens this month"

        reply = await AccessCommands(access, spend).handle("/users", 9)
    assert reply == (
        "Admins (config.yml):\n• 9 - 9,000 tokens this month\n"
        "Users (config.yml):\n• 1 - 1,000 tokens this month\n"
        "Added in the chat:\n"
        "• 5 (Bob, @bob), added by 9 on 2023-11-14 22:13 UTC - 5,000 tokens this month"
    )
