"""kill -9 around a reminder's delivery, with the real bot process: the message arrives at
least once and at most twice, never zero times (the guarantee in the README)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until

pytestmark = pytest.mark.slow
ON = {"scheduler": {"enabled": True}}


def schedule_in(seconds: int) -> Any:
    def handler(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "user":
            return Reply.tool("schedule_message", text="take the cake out", delay_seconds=seconds)
        return Reply(text="Noted.")

    return handler


def reminders(bots: BotRunner) -> list[str]:
    return [t for t in bots.telegram.texts(OWNER) if t.startswith("⏰")]


def attempts(bots: BotRunner) -> int:
    """sendMessage calls for the reminder, failed ones included."""
    return sum(
        str(call.params.get("text", "")).startswith("⏰")
        for call in bots.telegram.calls("sendMessage")
    )


async def test_killed_after_the_claim_before_the_send_it_arrives_after_restart(
    bots: BotRunner,
) -> None:
    bots.model.set_handler(schedule_in(1))
    first = bots.spawn(**ON)
    first.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "remind me in a second")
    await bots.telegram.wait_for_messages(OWNER, 1, timeout=15)
    bots.telegram.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    await wait_until(lambda: attempts(bots) >= 1, timeout=20)  # claimed, and its send is failing
    first.process.send_signal(signal.SIGKILL)
    first.wait()
    assert reminders(bots) == []

    calls = len(bots.telegram.get_updates_calls())
    second = bots.spawn(**ON)
    second.wait_polling(bots.telegram, after=calls)
    await wait_until(lambda: len(reminders(bots)) >= 1, timeout=20)
    await asyncio.sleep(1.0)
    [sent] = reminders(bots)  # once: the first run never got it out
    assert sent.startswith("⏰ take the cake out")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


async def test_killed_right_after_the_send_it_arrives_at_most_once_more(bots: BotRunner) -> None:
    bots.model.set_handler(schedule_in(1))
    first = bots.spawn(**ON)
    first.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "remind me in a second")
    await wait_until(lambda: len(reminders(bots)) == 1, timeout=20)
    first.process.send_signal(signal.SIGKILL)  # maybe before the completion was stored
    first.wait()

    calls = len(bots.telegram.get_updates_calls())
    second = bots.spawn(**ON)
    second.wait_polling(bots.telegram, after=calls)
    await asyncio.sleep(1.5)
    assert 1 <= len(reminders(bots)) <= 2
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
