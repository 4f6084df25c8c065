"""The spend ledger and the limits on every backend (file, moto, dynalite), on the test clock:
concurrent charges all count, periods roll over, warnings come once, prices apply."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest

from src.config import LimitsConfig, ModelPricing
from src.limits.ledger import Ledger
from src.limits.policy import Limits
from src.limits.prices import PriceTable
from src.llm.client import Usage
from src.store import Storage
from tests.clock import TestClock
from tests.store.test_records_contract import (  # noqa: F401
    MOTO_UNLOCKED_UPDATE,
    Backend,
    backend,
    storage,
)

UTC = ZoneInfo("UTC")
PRICES = PriceTable(
    {
        "chat": ModelPricing(
            input_usd_per_mtok=1.0, cached_input_usd_per_mtok=0.5, output_usd_per_mtok=4.0
        ),
        "whisper-1": ModelPricing(usd_per_audio_minute=0.006),
        "tts-1": ModelPricing(usd_per_mchars=15),
    }
)


def limits_on(storage: Storage, clock: TestClock, **config: object) -> Limits:  # noqa: F811
    ledger = Ledger(storage.records, UTC, clock, shared=storage.records.name != "file")
    return Limits(LimitsConfig(**config), ledger, PRICES, frozenset({1}))


async def test_concurrent_charges_of_one_user_add_up(
    backend: Backend,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    if backend.name == "moto":
        request.applymarker(MOTO_UNLOCKED_UPDATE)
    limits = limits_on(await backend.open_storage(), TestClock())
    usage = Usage(prompt_tokens=1000, completion_tokens=250)  # $0.002 each
    await asyncio.gather(*(limits.charge_chat(7, "chat", usage) for _ in range(30)))
    spend = await limits.ledger.spend(7)
    assert spend.day.tokens == spend.month.tokens == 30 * 1250
    assert spend.day.requests == 30
    assert spend.day.usd == pytest.approx(30 * 0.002)
    assert spend.bot_month.usd == pytest.approx(30 * 0.002)


async def test_a_second_process_reads_what_the_first_counted(backend: Backend) -> None:  # noqa: F811
    clock = TestClock()
    first = limits_on(await backend.open_storage(), clock)
    await first.charge_chat(7, "chat", Usage(100, 0))
    second = limits_on(await backend.open_storage(), clock)  # a restart, or a replica
    assert (await second.ledger.spend(7)).month.tokens == 100


async def test_days_and_months_roll_over_on_the_clock(storage: Storage) -> None:  # noqa: F811
    clock = TestClock(wall=1_700_000_000)  # 2023-11-14 22:13:20 UTC
    limits = limits_on(storage, clock, daily_tokens=100, monthly_tokens=1000)
    await limits.charge_chat(7, "chat", Usage(150, 0))
    refusal = await limits.check(7)
    assert refusal is not None and refusal.limit.name == "daily_tokens"
    await clock.advance(2 * 3600)  # the next day
    assert await limits.check(7) is None
    spend = await limits.ledger.spend(7)
    assert (spend.day.tokens, spend.month.tokens) == (0, 150)
    await clock.advance(17 * 86400)  # December: a new month
    assert (await limits.ledger.spend(7)).month.tokens == 0


async def test_a_warning_is_given_once_even_by_two_turns_at_once(
    backend: Backend,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    if backend.name == "moto":
        request.applymarker(MOTO_UNLOCKED_UPDATE)
    opened = await backend.open_storage()
    limits = limits_on(opened, TestClock(), daily_tokens=1000, warn_at=0.5)
    await limits.charge_chat(7, "chat", Usage(500, 0))  # exactly half: warned
    results = await asyncio.gather(*(limits.charge_chat(7, "chat", Usage(10, 0)) for _ in range(5)))
    warnings = [note for _, notes in results for note in notes]
    assert warnings == []  # the first charge already warned
    fresh = limits_on(opened, TestClock(), daily_tokens=1000, warn_at=0.5)
    _, notes = await fresh.charge_chat(8, "chat", Usage(600, 0))
    assert notes == [
        "You've used 60 % of your daily limit of 1,000 tokens. It resets at midnight (UTC), "
        "in 1 h 46 min."
    ]
    concurrent = await asyncio.gather(
        *(fresh.charge_chat(9, "chat", Usage(300, 0)) for _ in range(3))
    )
    assert sum(len(notes) for _, notes in concurrent) == 1  # 600 and 900 both pass 50 %: once


async def test_admins_are_exempt_from_user_limits_not_from_the_bot_cap(storage: Storage) -> None:  # noqa: F811
    limits = limits_on(storage, TestClock(), daily_tokens=10, bot_monthly_usd=0.001)
    await limits.charge_chat(1, "chat", Usage(100, 0))  # the admin: $0.0001, 100 tokens
    assert await limits.check(1) is None
    assert (await limits.check(2)) is None  # user 2 has spent nothing; the bot is under cap
    await limits.charge_chat(2, "chat", Usage(1000, 0))  # $0.001: the cap
    for user in (1, 2, None):
        refusal = await limits.check(user)
        assert refusal is not None and refusal.limit.name == "bot_monthly_usd"


async def test_unpriced_models_count_tokens_only(storage: Storage) -> None:  # noqa: F811
    limits = limits_on(storage, TestClock(), daily_usd=0.01)
    await limits.charge_chat(7, "mystery-model", Usage(10_000, 0))
    spend = await limits.ledger.spend(7)
    assert (spend.day.tokens, spend.day.usd, spend.day.unpriced) == (10_000, 0, 1)


async def test_transcription_and_speech_are_priced_by_their_units(storage: Storage) -> None:  # noqa: F811
    limits = limits_on(storage, TestClock())
    await limits.charge_audio(7, "whisper-1", 90)  # 1.5 min at $0.006
    await limits.charge_speech(7, "tts-1", 2000)  # 2,000 characters at $15 per million
    spend = await limits.ledger.spend(7)
    assert spend.day.usd == pytest.approx(0.009 + 0.03)
    assert spend.day.requests == 2 and spend.day.tokens == 0


def test_cached_input_costs_the_cached_price() -> None:
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, cached_tokens=400_000)
    assert PRICES.chat_usd("chat", usage) == pytest.approx(0.6 + 0.2 + 4.0)
    assert PRICES.chat_usd("chat-2025-01-01", Usage(1_000_000, 0)) == pytest.approx(1.0)
    assert set(PRICES.chat_models()) == {"chat"}  # audio and speech models are not chat models
