"""The message rate limiter as the application builds it from config: python-telegram-bot's
AIORateLimiter (aiolimiter underneath), driven with a callback that records when each request
would have gone out. The limiter waits on the event loop's clock, so these run on a loop whose
time is a test clock (tests/clock.py): the waits take no real time and happen at exact
virtual times, whatever the load on this machine."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from telegram.ext import BaseRateLimiter

from src.channels.telegram.app import build_application
from src.config import Config
from tests.clock import TestClock, VirtualTimeLoop

T = TypeVar("T")


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


def run_on_virtual_time(main: Callable[[], Awaitable[T]]) -> T:
    clock = TestClock(start=0.0)
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(clock)) as runner:
        return runner.run(main())  # type: ignore[arg-type]


def test_no_second_holds_more_messages_than_the_rate() -> None:
    rate = 40

    async def main() -> list[float]:
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
        await messages.shutdown()
        return sent

    sent = run_on_virtual_time(main)
    assert len(sent) == 60
    start = sent[0]
    # One message every 1/rate s, none earlier: no bursts, and so at most `rate` in a second.
    assert [t - start for t in sent] == pytest.approx([i / rate for i in range(60)])
    assert max(sum(1 for t in sent if s <= t < s + 1) for s in sent) == rate


def test_typing_and_drafts_do_not_wait_for_the_message_budget() -> None:
    async def main() -> list[tuple[str, float]]:
        messages = limiter(1)  # one message a second: the second one waits a whole second
        await messages.initialize()
        loop = asyncio.get_running_loop()
        done: list[tuple[str, float]] = []

        async def call(name: str) -> bool:
            done.append((name, loop.time()))
            return True

        def request(endpoint: str, name: str) -> Any:
            return messages.process_request(call, (name,), {}, endpoint, {"chat_id": 7}, None)

        await request("sendMessage", "first")
        waiting = asyncio.ensure_future(request("sendMessage", "second"))
        await request("sendChatAction", "typing")
        await request("sendMessageDraft", "draft")
        assert not waiting.done()
        await waiting
        await messages.shutdown()
        return done

    done = run_on_virtual_time(main)
    assert [name for name, _ in done] == ["first", "typing", "draft", "second"]
    times = [t - done[0][1] for _, t in done]
    assert times == pytest.approx([0, 0, 0, 1])  # only the second message waited its second
    assert all(b >= a for a, b in itertools.pairwise(times))
