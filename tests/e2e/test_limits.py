"""Spend and rate limits through the real bot, the local Telegram server and the scripted
model: refusals cost no model request, a tool loop stops at the limit, the day rolls over on
the test clock, /model pins and prices, the message rate paces or drops with one notice."""

from __future__ import annotations

import asyncio
from typing import Any

from src.conversation.message import Message
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until

ADMIN = 9001
USAGE = {"prompt_tokens": 80, "completion_tokens": 30}  # 110 tokens a request
MODELS = {
    "small": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0},
    "large": {"input_usd_per_mtok": 10.0, "output_usd_per_mtok": 20.0},
}


def limited(**limits: Any) -> dict[str, Any]:
    return {
        "limits": limits,
        "llm": {"models": MODELS},
        "telegram": {"admin_user_ids": [ADMIN]},
    }


async def say(bots: BotRunner, text: str, chat: int = OWNER, replies: int = 1) -> list[str]:
    """Send one message; return the bot's next `replies` messages in that chat."""
    before = len(bots.telegram.sent_messages(chat))
    bots.telegram.push_message(chat, text, user_id=chat)
    sent = await bots.telegram.wait_for_messages(chat, before + replies)
    return [str(m["text"]) for m in sent[before:]]


async def test_over_the_daily_limit_costs_no_request_and_the_next_day_works(
    bots: BotRunner,
) -> None:
    clock = TestClock(wall=1_700_000_000)  # 2023-11-14 22:13:20 UTC
    bots.model.set_handler(lambda body: Reply(text="Sure.", usage=USAGE))
    await bots.start(clock=clock, **limited(daily_tokens=100, warn_at=0))

    assert await say(bots, "first") == ["Sure."]  # 110 tokens: over from here on
    assert bots.model.request_count == 1
    refused = await say(bots, "second")
    assert refused == [
        "You've reached your daily limit of 100 tokens. It resets at midnight (UTC), in 1 h 46 min."
    ]
    assert bots.model.request_count == 1  # the refusal cost no model request
    history = await bots.history(str(OWNER))
    assert [m.content for m in history if m.role == "user"] == ["first"]  # not stored

    await clock.advance(2 * 3600)  # past midnight UTC
    assert await say(bots, "third") == ["Sure."]
    assert bots.model.request_count == 2


async def test_crossing_the_limit_in_a_tool_loop_stops_after_that_call(bots: BotRunner) -> None:
    bots.model.set_handler(lambda body: Reply(tool_calls=[("get_current_time", {})], usage=USAGE))
    await bots.start(clock=TestClock(), **limited(daily_tokens=100, warn_at=0))

    [reply] = await say(bots, "what time is it?")
    assert bots.model.request_count == 1  # the loop did not call the model again
    assert reply.startswith("(I stopped here: you've reached your daily limit of 100 tokens.")
    history = await bots.history(str(OWNER))
    calls = [m for m in history if m.role == "assistant" and m.tool_calls]
    results = [m for m in history if m.role == "tool"]
    assert len(calls) == 1 and len(results) == 1  # every tool call has its result
    assert results[0].tool_call_id == calls[0].tool_calls[0]["id"]  # type: ignore[index]
    assert results[0].metadata["not_run"] == "limit"
    assert history[-1].role == "assistant" and history[-1].metadata["stopped"] == "limit"
    _valid(history)


async def test_a_warning_comes_once_per_period(bots: BotRunner) -> None:
    bots.model.set_handler(lambda body: Reply(text="Ok.", usage=USAGE))
    await bots.start(clock=TestClock(), **limited(daily_tokens=1000, warn_at=0.2))

    assert await say(bots, "one") == ["Ok."]  # 110 of 1,000 tokens: under 20 %
    second = await say(bots, "two", replies=2)
    assert second[0] == "Ok."
    assert second[1].startswith(
        "You've used 22 % of your daily limit of 1,000 tokens. It resets at midnight (UTC)"
    )
    assert await say(bots, "three") == ["Ok."]
    await say(bots, "/usage")  # no second warning came in between
    assert bots.telegram.texts(OWNER)[-2] == "Ok."


async def test_admins_are_exempt_but_not_from_the_bot_cap(bots: BotRunner) -> None:
    bots.model.set_handler(
        lambda body: Reply(text="Ok.", usage={"prompt_tokens": 500_000, "completion_tokens": 0})
    )
    overrides = limited(daily_tokens=10, bot_monthly_usd=1.0, warn_at=0)
    overrides["llm"]["model"] = "small"
    overrides["telegram"]["allowed_user_ids"] = [OWNER]
    await bots.start(clock=TestClock(), **overrides)

    assert await say(bots, "a", chat=ADMIN) == ["Ok."]  # $0.50, and way over 10 tokens
    assert await say(bots, "b", chat=ADMIN) == ["Ok."]  # the bot's total: $1.00
    refused = await say(bots, "c", chat=ADMIN)
    assert refused == [
        "Sorry, the assistant has reached its monthly spending cap of $1.00, set by its owner. "
        "It resets on 1 December (UTC), in 16 days."
    ]
    assert (await say(bots, "d"))[0].startswith("Sorry, the assistant has reached its monthly")
    assert bots.model.request_count == 2


async def test_model_pins_a_model_that_the_request_carries_and_the_price_prices(
    bots: BotRunner,
) -> None:
    bots.model.set_handler(
        lambda body: Reply(text="Hi.", usage={"prompt_tokens": 1000, "completion_tokens": 1000})
    )
    overrides = limited()
    overrides["llm"]["model"] = "small"
    await bots.start(clock=TestClock(), **overrides)

    listing = (await say(bots, "/model"))[0]
    assert "• small: $1 in / $2 out per million tokens" in listing
    assert "• large: $10 in / $20 out per million tokens" in listing
    [pinned] = await say(bots, "/model LARGE")
    assert pinned.startswith("From now on this chat uses large")
    await say(bots, "hello")
    assert bots.model.last_request()["model"] == "large"
    usage = (await say(bots, "/usage"))[0]
    assert "Estimated cost: $0.0300" in usage  # 1000 * $10 + 1000 * $20 per million
    assert "You, today: 2,000 tokens, $0.0300 (1 request(s))" in usage

    assert (await say(bots, "/model wizard"))[0].startswith("There's no model called 'wizard'")
    assert (await say(bots, "/model default"))[0].startswith("Back to the default model")
    await say(bots, "again")
    assert bots.model.last_request()["model"] == "small"


async def test_usage_of_another_user_is_for_admins_only(bots: BotRunner) -> None:
    bots.model.set_handler(lambda body: Reply(text="Hi.", usage=USAGE))
    overrides = limited(monthly_tokens=1000)
    overrides["telegram"]["allowed_user_ids"] = [OWNER]
    await bots.start(clock=TestClock(), **overrides)
    await say(bots, "hello")

    assert await say(bots, f"/usage {ADMIN}") == ["Only an admin can see another user's usage."]
    [report] = await say(bots, f"/usage {OWNER}", chat=ADMIN)
    assert f"User {OWNER}, this month: 110 tokens" in report
    assert "monthly limit of 1,000 tokens: 11 % used" in report


async def test_thirty_messages_at_ten_a_minute_wait_with_one_notice(bots: BotRunner) -> None:
    clock = TestClock()
    bots.model.set_handler(lambda body: Reply(text=f"re: {body['messages'][-1]['content']}"))
    await bots.start(clock=clock, **limited(messages_per_minute=10))

    for n in range(30):
        bots.telegram.push_message(OWNER, f"m{n}", user_id=OWNER)
    sent = await bots.telegram.wait_for_messages(OWNER, 31, timeout=30)
    texts = [str(m["text"]) for m in sent]
    notices = [t for t in texts if t.startswith("You're sending messages faster")]
    assert len(notices) == 1 and "I'll answer the rest in order" in notices[0]
    assert [t for t in texts if t.startswith("re:")] == [f"re: m{n}" for n in range(30)]
    assert bots.model.request_count == 30  # every message answered, none twice
    assert sum(clock.sleeps) >= 20 * 6 - 1e-6  # 20 waited for a token each (6 s apart)


async def test_over_the_rate_with_drop_answers_none_of_the_excess_and_says_so_once(
    bots: BotRunner,
) -> None:
    bots.model.set_handler(lambda body: Reply(text="ok"))
    overrides = limited(messages_per_minute=10, over_rate="drop")
    bot = await bots.start(clock=TestClock(), **overrides)

    ids = [bots.telegram.push_message(OWNER, f"m{n}", user_id=OWNER) for n in range(30)]
    await bots.telegram.wait_for_messages(OWNER, 11, timeout=30)
    last = max(ids)
    await wait_until(
        lambda: bots.telegram.confirmed_offset > last, 10, message="updates not confirmed"
    )
    inbox = bot.service.runtime.storage.inbox  # type: ignore[union-attr]
    for _ in range(500):  # every update handled: answered, or dropped and done with
        if not await inbox.pending():
            break
        await asyncio.sleep(0.02)
    assert not await inbox.pending()
    texts = bots.telegram.texts(OWNER)
    assert texts.count("ok") == 10
    assert sum(t.startswith("You're sending messages faster") for t in texts) == 1
    assert any("skipping the ones over that" in t for t in texts)
    assert bots.model.request_count == 10
    history = await bots.history(str(OWNER))
    assert [m.content for m in history if m.role == "user"] == [f"m{n}" for n in range(10)]

    # The dropped messages are done with: a restart answers none of them.
    assert await bot.stop() == 0
    await bots.start(clock=TestClock(), **overrides)
    assert await say(bots, "after") == ["ok"]
    assert bots.model.request_count == 11


def _valid(history: list[Message]) -> None:
    """Every tool call in the history has a result right after it."""
    for index, message in enumerate(history):
        for call in message.tool_calls or []:
            answered = {m.tool_call_id for m in history[index + 1 :] if m.role == "tool"}
            assert call["id"] in answered
