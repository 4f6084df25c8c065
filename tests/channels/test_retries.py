"""The poller's and the sender's retries on the test clock, against the local Telegram
server: which waits were asked for (retry_after honoured, backoff bounds), how many tries,
and that stop() ends a wait at once. No real second is waited or measured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import pytest
from telegram import Bot, Update

from src.channels.telegram.formatting import Part
from src.channels.telegram.poller import FatalPollingError, Poller
from src.channels.telegram.sender import Sender, Target
from src.errors import ChannelError
from tests.clock import TestClock
from tests.peers.telegram_server import FakeTelegram

CHAT = 4242


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(telegram.token, base_url=f"{telegram.url}/bot") as bot:
        yield bot


def poller_for(bot: Bot, clock: TestClock, got: list[str]) -> Poller:
    async def process(updates: Sequence[Update]) -> None:
        got.extend(u.message.text for u in updates if u.message and u.message.text)
        poller.stop()

    poller = Poller(bot, process, timeout_s=1, clock=clock)
    return poller


async def test_getupdates_waits_out_429_and_backs_off_on_network_errors(
    telegram: FakeTelegram, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="src.channels.telegram.poller")
    telegram.push_message(CHAT, "hello")
    telegram.fail_next("getUpdates", 429, retry_after=30)
    telegram.fail_next("getUpdates", 502, times=3)
    clock = TestClock()
    got: list[str] = []
    await asyncio.wait_for(poller_for(bot, clock, got).run(), 30)  # only a hang guard
    assert got == ["hello"]
    assert clock.sleeps == [30.1, 1, 2, 4]  # retry_after (+0.1), then 1 s doubling
    assert [c.status for c in telegram.calls("getUpdates")] == [429, 502, 502, 502, 200]
    assert "getUpdates failed (Bad Gateway); retrying in 1 s" in caplog.text


async def test_stop_ends_the_wait_between_polls_at_once(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.fail_next("getUpdates", 502)
    clock = TestClock(auto=False)
    poller = poller_for(bot, clock, [])
    running = asyncio.create_task(poller.run())
    await clock.until_sleeping(1)  # backing off after the failure
    poller.stop()
    await asyncio.wait_for(running, 30)  # only a hang guard
    assert clock.monotonic() == 1000.0  # no time had to pass
    assert [c.status for c in telegram.calls("getUpdates")] == [502]  # and no poll after it


async def test_a_refused_token_stops_polling_for_good(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.fail_next("getUpdates", 401, "Unauthorized")  # the token was revoked meanwhile
    clock = TestClock()
    with pytest.raises(FatalPollingError):
        await asyncio.wait_for(poller_for(bot, clock, []).run(), 30)  # only a hang guard
    assert clock.sleeps == []
    assert len(telegram.calls("getUpdates")) == 1


async def test_a_message_waits_out_429_and_network_failures(
    telegram: FakeTelegram, bot: Bot
) -> None:
    clock = TestClock()
    sender = Sender(bot, clock=clock)
    telegram.fail_next("sendMessage", 429, retry_after=5)
    telegram.fail_next("sendMessage", 502, times=2)
    await sender.send(Target(CHAT), Part("hi"))
    assert telegram.texts(CHAT) == ["hi"]  # sent once
    assert clock.sleeps == [5.1, 1, 2]


async def test_a_message_gives_up_after_four_tries(telegram: FakeTelegram, bot: Bot) -> None:
    clock = TestClock()
    sender = Sender(bot, clock=clock)
    telegram.fail_next("sendMessage", 502, times=4)
    with pytest.raises(ChannelError, match="cannot reach Telegram"):
        await sender.send(Target(CHAT), Part("hi"))
    assert len(telegram.calls("sendMessage")) == 4
    assert clock.sleeps == [1, 2, 4]
    assert telegram.texts(CHAT) == []


async def test_a_refused_message_is_not_retried(telegram: FakeTelegram, bot: Bot) -> None:
    clock = TestClock()
    telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(ChannelError, match="blocked"):
        await Sender(bot, clock=clock).send(Target(CHAT), Part("hi"))
    assert (len(telegram.calls("sendMessage")), clock.sleeps) == (1, [])


async def test_a_final_edit_waits_out_429_but_an_intermediate_one_is_skipped(
    telegram: FakeTelegram, bot: Bot
) -> None:
    clock = TestClock()
    sender = Sender(bot, clock=clock)
    message_id = await sender.send(Target(CHAT), Part("draft"))
    telegram.fail_next("editMessageText", 429, retry_after=3)
    assert not await sender.edit(Target(CHAT), message_id, Part("partial"), final=False)
    telegram.fail_next("editMessageText", 429, retry_after=3)
    assert await sender.edit(Target(CHAT), message_id, Part("final"), final=True)
    assert telegram.texts(CHAT) == ["final"]
    assert clock.sleeps == [3.1]
