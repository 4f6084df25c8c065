"""ReplyStream's cadence on the test clock: at most one draft (private chats) or edit (groups)
per interval, however fast the text comes, against the local Telegram server. The clock moves
only when the test advances it, so "not before the interval" is a fact, not a measurement."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from src.channels.telegram.sender import Sender, Target
from src.channels.telegram.stream import FIRST_SHOW_DELAY_S, ReplyStream
from tests.clock import TestClock
from tests.peers.serve import wait_until
from tests.peers.telegram_server import FakeTelegram

CHAT = 4242
GROUP = -100777


@pytest.fixture
async def sender(telegram: FakeTelegram) -> AsyncIterator[Sender]:
    bot = Bot(telegram.token, base_url=f"{telegram.url}/bot")
    async with bot:
        yield Sender(bot)


def drafts(telegram: FakeTelegram) -> list[str]:
    return [d["text"] for d in telegram.drafts(CHAT)]


async def test_drafts_come_at_most_once_per_interval(
    telegram: FakeTelegram, sender: Sender
) -> None:
    clock = TestClock(auto=False)
    stream = ReplyStream(sender, Target(CHAT), mode="draft", interval_s=1.0, clock=clock)
    async with stream:
        await stream.on_delta("Hello")
        await clock.advance(FIRST_SHOW_DELAY_S / 2)
        assert drafts(telegram) == []  # an answer that comes whole at once needs no draft
        await clock.advance(FIRST_SHOW_DELAY_S / 2)
        await wait_until(lambda: drafts(telegram) == ["Hello"])
        for word in ("one", "two", "three"):  # text keeps coming for 3/4 of the interval
            await stream.on_delta(f" {word}")
            await clock.advance(0.25)
        assert drafts(telegram) == ["Hello"]
        await clock.advance(0.25)  # a full interval after the first draft: one more
        await wait_until(lambda: len(drafts(telegram)) == 2)
        assert drafts(telegram) == ["Hello", "Hello one two three"]
        await stream.on_delta(" four")
        await clock.advance(0.5)
        assert len(drafts(telegram)) == 2
        assert await stream.finish("Hello one two three four") == 1
    assert telegram.texts(CHAT) == ["Hello one two three four"]  # the final text, once
    assert drafts(telegram) == ["Hello", "Hello one two three"]
    assert telegram.calls("editMessageText") == []


async def test_group_edits_come_at_most_once_per_interval(
    telegram: FakeTelegram, sender: Sender
) -> None:
    clock = TestClock(auto=False)
    target = Target(GROUP, private=False)
    stream = ReplyStream(sender, target, mode="edit", interval_s=2.0, clock=clock)

    def edits() -> list[str]:
        return [c.params["text"] for c in telegram.calls("editMessageText") if c.status == 200]

    async with stream:
        await stream.on_delta("First")
        await clock.advance(FIRST_SHOW_DELAY_S)
        await wait_until(lambda: telegram.texts(GROUP) == ["First"])
        for word in ("a", "b", "c"):
            await stream.on_delta(f" {word}")
            await clock.advance(0.5)
        assert edits() == []  # 1.5 s of the 2 s interval
        await clock.advance(0.5)
        await wait_until(lambda: edits() == ["First a b c"])
        await stream.on_delta(" d")
        await clock.advance(1.0)
        assert edits() == ["First a b c"]
        await stream.finish("First a b c d")
    assert edits() == ["First a b c", "First a b c d"]  # the final edit does not wait
    assert telegram.texts(GROUP) == ["First a b c d"]
    assert len(telegram.calls("sendMessage")) == 1
