"""Admins manage who may use the bot from the chat: /allow, /deny and /users, through the
real bot, the local Telegram server and the model."""

from __future__ import annotations

from typing import Any

import pytest

from src.agents.access_commands import ADMINS_ONLY
from src.channels.telegram import texts
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.dynamodb import shared_endpoint, use_endpoint

ADMIN = 9001
STRANGER, OTHER = 777, 778
ACCESS = {"allowed_user_ids": [OWNER], "admin_user_ids": [ADMIN]}
WHEN = "2023-11-14 22:13 UTC"  # the test clock's wall time (1.7e9)


async def say(bots: BotRunner, user: int, text: str, **who: Any) -> str:
    """Send one message from `user` in their private chat; return the bot's next reply."""
    before = len(bots.telegram.sent_messages(user))
    bots.telegram.push_message(user, text, **who)
    sent = await bots.telegram.wait_for_messages(user, before + 1)
    return str(sent[before]["text"])


@pytest.fixture(params=["file", "dynamodb"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Config overrides for the store the bot runs on (DynamoDB: the session's moto)."""
    if request.param == "file":
        return {}
    use_endpoint(monkeypatch, shared_endpoint("moto"))
    table = request.getfixturevalue("table")
    return {"store": {"type": "dynamodb", "dynamodb": {"table": table, "create_table": True}}}


async def test_allow_and_deny_by_an_admin_survive_a_restart(
    bots: BotRunner, store: dict[str, Any]
) -> None:
    first = await bots.start(clock=TestClock(), telegram=ACCESS, **store)
    public = {c["command"] for c in bots.telegram.commands}
    admins = {c["command"] for c in bots.telegram.commands_for({"type": "chat", "chat_id": ADMIN})}
    assert {"allow", "deny", "users", "invite"} & public == set()
    assert {"allow", "deny", "users", "invite", "agent", "start"} <= admins

    assert await say(bots, STRANGER, "hi") == texts.refused(STRANGER)
    assert await say(bots, ADMIN, f"/allow {STRANGER}") == (
        f"User {STRANGER} can use the bot now. /deny {STRANGER} takes that back."
    )
    assert await say(bots, STRANGER, "hi") == "echo: hi"  # at once, no restart
    assert await say(bots, ADMIN, f"/allow {STRANGER}") == f"User {STRANGER} is already allowed."
    assert (
        await say(bots, ADMIN, f"/allow {OWNER}")
        == f"User {OWNER} is already allowed (config.yml)."
    )
    assert (
        await say(bots, ADMIN, "/allow bob") == "Usage: /allow <user id>, a number like 123456789."
    )

    assert await say(bots, ADMIN, f"/allow {OTHER}") == (
        f"User {OTHER} can use the bot now. /deny {OTHER} takes that back."
    )
    assert await say(bots, OTHER, "hi") == "echo: hi"
    assert await say(bots, ADMIN, f"/deny {OTHER}") == f"User {OTHER} can no longer use the bot."
    assert await say(bots, OTHER, "still there?") == texts.refused(OTHER)
    assert (
        await say(bots, ADMIN, f"/deny {OTHER}") == f"User {OTHER} wasn't allowed; nothing changed."
    )
    for config_user in (OWNER, ADMIN):  # the floor: config.yml's lists stay
        assert await say(bots, ADMIN, f"/deny {config_user}") == (
            f"User {config_user} is in config.yml and stays allowed until removed from config.yml."
        )
    assert await say(bots, OWNER, "hello") == "echo: hello"
    assert await first.stop() == 0

    await bots.start(clock=TestClock(), telegram=ACCESS, **store)
    assert await say(bots, STRANGER, "again") == "echo: again"
    assert await say(bots, OTHER, "and me?") == texts.refused(OTHER)
    assert await say(bots, ADMIN, "/users") == (
        f"Admins (config.yml):\n• {ADMIN}\n"
        f"Users (config.yml):\n• {OWNER}\n"
        f"Added in the chat:\n• {STRANGER}, added by {ADMIN} on {WHEN}"
    )
    if store:
        assert not bots.data_dir.exists()  # it all went to DynamoDB


async def test_access_commands_from_a_non_admin_are_refused_and_change_nothing(
    bots: BotRunner,
) -> None:
    await bots.start(telegram=ACCESS)
    for command in (f"/allow {STRANGER}", f"/deny {OWNER}", "/users", "/invite"):
        assert await say(bots, OWNER, command) == ADMINS_ONLY
    assert await say(bots, STRANGER, "let me in") == texts.refused(STRANGER)
    assert await say(bots, ADMIN, "/users") == (
        f"Admins (config.yml):\n• {ADMIN}\nUsers (config.yml):\n• {OWNER}\nAdded in the chat: none"
    )
    assert await say(bots, OWNER, "hello") == "echo: hello"  # the owner is still allowed
    assert bots.model.request_count == 1
