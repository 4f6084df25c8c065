"""Reminders and scheduled tasks through the real bot, the local Telegram server and the
scripted model calling the tools; time is the test clock's (the scheduler sleeps on it)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until

ON = {"scheduler": {"enabled": True}}
OTHER = 5151  # another allowed user


def scheduling(**arguments: Any) -> Any:
    """A model that schedules with `arguments` when asked, and confirms after the tool ran."""

    def handler(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "user" and last["content"].startswith("remind"):
            return Reply.tool("schedule_message", **arguments)
        if last["role"] == "tool":
            return Reply(text=f"Noted: {last['content']}")
        return Reply(text="ok")

    return handler


async def say(bots: BotRunner, text: str, chat: int = OWNER) -> str:
    before = len(bots.telegram.sent_messages(chat))
    bots.telegram.push_message(chat, text, user_id=chat)
    sent = await bots.telegram.wait_for_messages(chat, before + 1)
    return str(sent[before]["text"])


async def quiet(bots: BotRunner, chat: int = OWNER) -> list[str]:
    """The chat's texts once the bot has had a moment to send whatever it would."""
    await asyncio.sleep(0.2)
    return bots.telegram.texts(chat)


def reminders(bots: BotRunner, chat: int = OWNER) -> list[str]:
    return [t for t in bots.telegram.texts(chat) if t.startswith("⏰")]


async def test_a_reminder_two_seconds_ahead_arrives_once_at_its_time(bots: BotRunner) -> None:
    clock = TestClock(auto=False)
    bots.model.set_handler(scheduling(text="stretch your legs", delay_seconds=2))
    await bots.start(clock=clock, **ON)
    answer = await say(bots, "remind me in 2 seconds to stretch")
    assert re.match(r"Noted: Scheduled [0-9a-f]{8}: first at .* in 0 min 2 s\.", answer)
    await clock.until_sleeping()
    await clock.advance(1.5)
    assert reminders(bots) == [] and reminders(bots) == [t for t in await quiet(bots) if "⏰" in t]
    await clock.advance(0.5)
    await bots.telegram.wait_for_messages(OWNER, 2)
    assert reminders(bots) == ["⏰ stretch your legs"]
    assert bots.telegram.texts(OWNER).index("⏰ stretch your legs") == 1  # after the answer
    await clock.advance(7200)
    assert [t for t in await quiet(bots) if t.startswith("⏰")] == ["⏰ stretch your legs"]
    assert bots.model.request_count == 2  # a plain reminder costs no model call


async def test_a_cron_entry_fires_at_every_slot(bots: BotRunner) -> None:
    clock = TestClock(auto=False)  # 22:13:20 UTC
    bots.model.set_handler(scheduling(text="drink water", repeat="* * * * *"))
    await bots.start(clock=clock, **ON)
    await say(bots, "remind me every minute to drink water")
    for fired in (1, 2, 3):
        await clock.until_sleeping()
        await clock.advance(40 if fired == 1 else 60)  # 22:14:00, 22:15:00, 22:16:00
        await bots.telegram.wait_for_messages(OWNER, 1 + fired)
    assert reminders(bots) == ["⏰ drink water"] * 3


async def test_cancel_by_tool(bots: BotRunner) -> None:
    clock = TestClock(auto=False)
    scheduled: list[str] = []

    def handler(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "user" and last["content"] == "remind me":
            return Reply.tool("schedule_message", text="call Bob", delay_seconds=60)
        if last["role"] == "user" and last["content"] == "cancel it":
            return Reply.tool("cancel_scheduled", id=scheduled[0])
        if last["role"] == "tool":
            found = re.search(r"Scheduled ([0-9a-f]{8})", last["content"])
            if found:
                scheduled.append(found.group(1))
            return Reply(text=last["content"])
        return Reply(text="?")

    bots.model.set_handler(handler)
    await bots.start(clock=clock, **ON)
    await say(bots, "remind me")
    assert await say(bots, "cancel it") == f"Cancelled {scheduled[0]}."
    await clock.advance(120)
    assert reminders(bots) == [] and all("⏰" not in t for t in await quiet(bots))


async def test_cancel_by_button_only_by_its_owner(bots: BotRunner) -> None:
    clock = TestClock(auto=False)
    bots.model.set_handler(scheduling(text="water the plants", delay_seconds=600))
    await bots.start(clock=clock, telegram={"allowed_user_ids": [OWNER, OTHER]}, **ON)
    await say(bots, "remind me in ten minutes")
    await say(bots, "/reset")  # forgets the conversation, not the reminders
    listing = bots.telegram.sent_messages(OWNER)
    before = len(listing)
    bots.telegram.push_message(OWNER, "/reminders", user_id=OWNER)
    message = (await bots.telegram.wait_for_messages(OWNER, before + 1))[before]
    assert "water the plants" in message["text"] and "/reset does not cancel" in message["text"]
    [[button]] = message["reply_markup"]["inline_keyboard"]
    assert button["text"].startswith("Cancel ")

    bots.telegram.push_callback_query(message, button["callback_data"], user_id=OTHER)
    await wait_until(lambda: len(bots.telegram.calls("answerCallbackQuery")) == 1)
    first = bots.telegram.calls("answerCallbackQuery")[0].params
    assert first["text"] == "Only the person who scheduled it can cancel it."
    bots.telegram.push_callback_query(message, button["callback_data"], user_id=OWNER)
    await wait_until(lambda: len(bots.telegram.calls("answerCallbackQuery")) == 2)
    assert bots.telegram.calls("answerCallbackQuery")[1].params["text"].startswith("Cancelled")
    await clock.advance(900)
    assert all("⏰" not in t for t in await quiet(bots))


async def test_a_task_runs_a_tool_and_sends_the_models_answer(bots: BotRunner) -> None:
    clock = TestClock(auto=False)

    def handler(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]
        if last["role"] == "user" and last["content"].startswith("remind"):
            return Reply.tool(
                "schedule_message", text="tell me the time", delay_seconds=30, task=True
            )
        if last["role"] == "user" and "A task I scheduled earlier" in last["content"]:
            return Reply.tool("get_current_time", timezone="UTC")
        if last["role"] == "tool" and "Scheduled" in last["content"]:
            return Reply(text="Will do.")
        return Reply(text=f"It is {last['content']}")

    bots.model.set_handler(handler)
    await bots.start(clock=clock, **ON)
    assert await say(bots, "remind me in 30 s of the time") == "Will do."
    await clock.until_sleeping()
    await clock.advance(30)
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert sent[1]["text"] == "⏰ Scheduled task: tell me the time"
    assert sent[2]["text"].startswith("It is ") and "(UTC," in sent[2]["text"]
    history = await bots.history(str(OWNER))
    task_turn = [m for m in history if m.role == "user" and m.metadata.get("scheduled")]
    assert len(task_turn) == 1 and task_turn[0].metadata["source"] == "scheduled"
    assert "This chat used 4 model request(s)" in await say(bots, "/usage")  # the task's too


async def test_times_are_in_the_users_zone(bots: BotRunner) -> None:
    clock = TestClock(auto=False)  # 2023-11-14 22:13:20 UTC = 23:13:20 in Berlin
    bots.model.set_handler(scheduling(text="standup", at="2023-11-15T09:00"))
    await bots.start(clock=clock, **ON)
    assert await say(bots, "/timezone Mars/Base") == (
        "I don't know the time zone 'Mars/Base'. Use an IANA name like Europe/Berlin."
    )
    assert await say(bots, "/timezone Europe/Berlin") == (
        "Your time zone is now Europe/Berlin. New reminders use it."
    )
    answer = await say(bots, "remind me at nine")
    assert "first at Wed 15 Nov 2023 09:00 (Europe/Berlin), in 9 h 46 min" in answer
    await clock.until_sleeping()
    await clock.advance(9 * 3600 + 46 * 60 + 39)  # 08:59:59 in Berlin
    assert all("⏰" not in t for t in await quiet(bots))
    await clock.advance(1)
    await bots.telegram.wait_for_messages(OWNER, 4)
    assert reminders(bots) == ["⏰ standup"]


async def test_a_blocked_chat_disables_its_entries(bots: BotRunner) -> None:
    clock = TestClock(auto=False)
    bots.model.set_handler(scheduling(text="ping", repeat="* * * * *"))
    bot = await bots.start(clock=clock, **ON)
    await say(bots, "remind me every minute")
    bots.telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await clock.until_sleeping()
    await clock.advance(40)
    assert bot.service.runtime is not None and bot.service.runtime.scheduler is not None
    entries = bot.service.runtime.scheduler.entries
    await _until_async(lambda: _disabled(entries))
    await clock.advance(600)
    assert reminders(bots) == []


async def _disabled(entries: Any) -> bool:
    found = await entries.of_user(OWNER)
    return bool(found) and all(e.disabled == "blocked" and e.due_at is None for e in found)


async def _until_async(predicate: Any, tries: int = 250) -> None:
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_a_user_taken_off_the_allowlist_gets_no_more(bots: BotRunner) -> None:
    clock, admin = TestClock(auto=False), 9001
    bots.model.set_handler(scheduling(text="hello from the past", delay_seconds=60))
    bot = await bots.start(clock=clock, telegram={"admin_user_ids": [admin]}, **ON)
    assert (await say(bots, f"/allow {OTHER}", chat=admin)).startswith(f"User {OTHER} can use")
    assert (await say(bots, "remind me in a minute", chat=OTHER)).startswith("Noted: Scheduled")
    assert (await say(bots, f"/deny {OTHER}", chat=admin)).startswith(f"User {OTHER}")
    await clock.until_sleeping()
    await clock.advance(60)
    assert bot.service.runtime is not None and bot.service.runtime.scheduler is not None
    entries = bot.service.runtime.scheduler.entries
    await _until_async(lambda: _none_left(entries, OTHER))
    assert reminders(bots, OTHER) == []


async def _none_left(entries: Any, user: int) -> bool:
    return not await entries.of_user(user)


async def test_entries_due_while_the_bot_was_down_go_out_once_at_start_marked_late(
    bots: BotRunner,
) -> None:
    clock = TestClock(auto=False)  # 22:13:20 UTC
    bots.model.set_handler(scheduling(text="daily review", repeat="0 * * * *"))  # hourly
    first = await bots.start(clock=clock, **ON)
    await say(bots, "remind me every hour")
    assert await first.stop() == 0
    await clock.advance(5 * 3600)  # down through five slots
    await bots.start(clock=clock, **ON)
    await bots.telegram.wait_for_messages(OWNER, 2)
    assert reminders(bots) == ["⏰ daily review\n(late: this was due Tue 14 Nov 2023 23:00 (UTC))"]
    assert len(reminders(bots)) == len([t for t in await quiet(bots) if t.startswith("⏰")])
    await clock.until_sleeping()
    await clock.advance(46 * 60 + 40)  # 04:00, the next slot after the restart: not late
    await bots.telegram.wait_for_messages(OWNER, 3)
    assert reminders(bots)[1] == "⏰ daily review"
