"""The message rate limiter as the application builds it from config: python-telegram-bot's
AIORateLimiter (aiolimiter underneath), driven with a callback that records when each request
would have gone out. Times are read from the event loop's clock, the one the limiter uses, so
these check the spacing the limiter grants, not how fast this machine is."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from telegram.ext import BaseRateLimiter

from src.channels.telegram.app import build_application
from src.config import Config


def limiter(rate: float) -> BaseRateLimiter[Any]:
    config = Config.model_validate(
        {
            "llm": {"api_key": "sk-test"},
            "telegram": {"bot_token": "123:TEST", "max_messages_per_second": rate},
        }
    )
    built = build_application(config).bot.rate_limiter
    assert built is not None
    return built


async def test_no_second_holds_more_messages_than_the_rate() -> None:
    rate = 40
    messages = limiter(rate)
    await messages.initialize()
    loop = asyncio.get_running_loop()
    sent: list[float] = []

    async def send() -> bool:
        sent.append(loop.time())
        return True

    # 60 chats answered at once: more than one second's worth, so a burst would show.
    await asyncio.gather(
        *(
            messages.process_request(send, (), {}, "sendMessage", {"chat_id": 1000 + i}, None)
            for i in range(60)
        )
    )
    assert len(sent) == 60
    sent.sort()
    # At most `rate` in any one-second window: message i + rate is a full second after i.
    assert min(sent[i + rate] - sent[i] for i in range(len(sent) - rate)) >= 1 - 1e-6
    # And no bursts at all: every message waits its 1/rate after the one before.
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 1 / rate - 1e-6
    await messages.shutdown()


async def test_typing_and_drafts_do_not_wait_for_the_message_budget() -> None:
    messages = limiter(1)  # one message a second: the second one waits a whole second
    await messages.initialize()
    done: list[str] = []

    async def call(name: str) -> bool:
        done.append(name)
        return True

    def request(endpoint: str, name: str) -> Any:
        return messages.process_request(call, (name,), {}, endpoint, {"chat_id": 7}, None)

    await request("sendMessage", "first")
    waiting = asyncio.ensure_future(request("sendMessage", "second"))
    await request("sendChatAction", "typing")
    await request("sendMessageDraft", "draft")
    assert done == ["first", "typing", "draft"]
    assert not waiting.done()
    await waiting
    assert done == ["first", "typing", "draft", "second"]
    await messages.shutdown()
