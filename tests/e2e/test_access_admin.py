"""Admins manage who may use the bot from the chat: /allow, /deny, /users, /invite and a
stranger's /start <code>, through the real bot, the local Telegram server and the model."""

from __future__ import annotations

import re
from typing import Any

from src.agents.access_commands import ADMINS_ONLY
from src.channels.telegram import texts
from src.invites import NOT_VALID
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.storeview import records_locked

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


async def invite(bots: BotRunner) -> str:
    reply = await say(bots, ADMIN, "/invite")
    head, command = reply.splitlines()
    assert head.startswith("Here's an invitation. It works once, until ")
    assert command.startswith("/start ")
    return command.removeprefix("/start ")


async def test_an_invitation_lets_one_stranger_in_once(bots: BotRunner) -> None:
    await bots.start(clock=TestClock(), telegram=ACCESS)
    code = await invite(bots)
    assert 10 <= len(code) <= 12

    welcome = await say(bots, STRANGER, f"/start {code}", username="bob", first_name="Bob")
    assert welcome == texts.WELCOME
    notice = await bots.telegram.wait_for_messages(ADMIN, 2)  # the invitation, the notice
    assert notice[1]["text"] == f"User {STRANGER} (Bob, @bob) joined with your invitation."
    assert await say(bots, STRANGER, "hello") == "echo: hello"  # allowed now
    assert bots.model.request_count == 1
    # An allowed user's /start <anything> is the usual greeting.
    assert await say(bots, STRANGER, f"/start {code}") == texts.START

    assert await say(bots, OTHER, f"/start {code}") == NOT_VALID  # used: no second user
    assert await say(bots, OTHER, "/start not-a-code") == NOT_VALID
    assert await say(bots, OTHER, "/start") == texts.refused(OTHER)  # no code: the refusal
    users = await say(bots, ADMIN, "/users")
    assert f"• {STRANGER} (Bob, @bob), added by {ADMIN} on {WHEN}" in users
    assert str(OTHER) not in users
    assert bots.model.request_count == 1  # nothing else reached the model


async def test_an_expired_invitation_is_refused(bots: BotRunner) -> None:
    clock = TestClock()
    await bots.start(clock=clock, telegram=ACCESS, access={"invite_ttl_s": 3600})
    early, late = await invite(bots), await invite(bots)
    await clock.advance(3599)
    assert await say(bots, STRANGER, f"/start {early}") == texts.WELCOME
    await clock.advance(2)
    assert await say(bots, OTHER, f"/start {late}") == NOT_VALID
    assert await say(bots, OTHER, "hello") == texts.refused(OTHER)  # still a stranger
    assert bots.model.request_count == 0
    assert len(bots.telegram.sent_messages(ADMIN)) == 3  # two codes and one notice


async def test_allow_and_deny_by_an_admin_survive_a_restart(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    first = await bots.start(clock=TestClock(), telegram=ACCESS, **bot_store)
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

    await bots.start(clock=TestClock(), telegram=ACCESS, **bot_store)
    assert await say(bots, STRANGER, "again") == "echo: again"
    assert await say(bots, OTHER, "and me?") == texts.refused(OTHER)
    users = await say(bots, ADMIN, "/users")
    spends = re.findall(r" - ([\d,]+) tokens, \$[\d.]+ this month", users)
    assert re.sub(r" - [\d,]+ tokens, \$[\d.]+ this month", "", users) == (
        f"Admins (config.yml):\n• {ADMIN}\n"
        f"Users (config.yml):\n• {OWNER}\n"
        f"Added in the chat:\n• {STRANGER}, added by {ADMIN} on {WHEN}"
    )
    assert spends[0] == "0" and all(int(n.replace(",", "")) > 0 for n in spends[1:])
    if bot_store:
        assert not bots.data_dir.exists()  # it all went to DynamoDB


async def test_access_commands_from_a_non_admin_are_refused_and_change_nothing(
    bots: BotRunner,
) -> None:
    await bots.start(telegram=ACCESS)
    for command in (f"/allow {STRANGER}", f"/deny {OWNER}", "/users", "/invite"):
        assert await say(bots, OWNER, command) == ADMINS_ONLY
    assert await say(bots, STRANGER, "let me in") == texts.refused(STRANGER)
    nothing = " - 0 tokens, $0.00 this month"
    assert await say(bots, ADMIN, "/users") == (
        f"Admins (config.yml):\n• {ADMIN}{nothing}\nUsers (config.yml):\n• {OWNER}{nothing}\n"
        "Added in the chat: none"
    )
    assert await say(bots, OWNER, "hello") == "echo: hello"  # the owner is still allowed
    assert bots.model.request_count == 1


async def test_a_store_failure_while_redeeming_is_told_plainly_and_the_code_still_works(
    bots: BotRunner,
) -> None:
    await bots.start(telegram=ACCESS)
    code = await invite(bots)
    with records_locked(bots.data_dir):  # every write fails (after SQLite's busy timeout)
        assert await say(bots, STRANGER, f"/start {code}") == texts.STORE_DOWN
    assert await say(bots, STRANGER, f"/start {code}") == texts.WELCOME
    assert await say(bots, STRANGER, "hello") == "echo: hello"
