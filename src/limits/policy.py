"""The limits: a turn that would start over budget is refused before any model call; a turn
that crosses a limit mid-way finishes its model call and stops its tool loop; a user passing
`limits.warn_at` of a limit is told once per period.

Per-user limits (tokens and dollars, per day and per month) spare admins when
`limits.admins_exempt` is on, and spare the console (no user id: the operator). The bot's
monthly cap (`bot_monthly_usd`) applies to everyone: it is the owner's hard stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config, LimitsConfig
from src.conversation.usage import Cost
from src.limits.ledger import Ledger, Spent, UserSpend
from src.limits.periods import Periods, describe_day_reset, describe_month_reset
from src.limits.prices import PriceTable
from src.limits.rate import MessageRate
from src.llm.client import Usage
from src.store.records import RecordStore

logger = logging.getLogger(__name__)

Period = Literal["day", "month"]


@dataclass(frozen=True)
class Limit:
    name: str  # the config key: daily_tokens, monthly_usd, bot_monthly_usd, ...
    period: Period
    unit: Literal["tokens", "usd"]
    value: float
    whole_bot: bool = False

    def used(self, spend: UserSpend) -> float:
        spent: Spent = spend.bot_month if self.whole_bot else getattr(spend, self.period)
        return spent.tokens if self.unit == "tokens" else spent.usd

    def amount(self) -> str:
        return f"{int(self.value):,} tokens" if self.unit == "tokens" else money(self.value)

    def phrase(self) -> str:
        """ "daily limit of 10,000 tokens" / "monthly spending cap of $20.00"."""
        when = "daily" if self.period == "day" else "monthly"
        kind = (
            "spending cap"
            if self.whole_bot
            else "limit"
            if self.unit == "tokens"
            else ("spending limit")
        )
        return f"{when} {kind} of {self.amount()}"

    def reached(self, periods: Periods) -> str:
        """What a refused turn is told."""
        resets = f"It resets {self.resets(periods)}."
        if self.whole_bot:
            return (
                f"Sorry, the assistant has reached its {self.phrase()}, set by its owner. {resets}"
            )
        return f"You've reached your {self.phrase()}. {resets}"

    def resets(self, periods: Periods) -> str:
        if self.period == "day":
            return describe_day_reset(periods)
        return describe_month_reset(periods)


def money(usd: float) -> str:
    """ "$20.00", "$0.50", "$0.001": cents unless a limit is set finer than that."""
    return f"${usd:,.2f}" if round(usd, 2) == usd else f"${usd:.4g}"


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    text: str


class Limits:
    def __init__(
        self, config: LimitsConfig, ledger: Ledger, prices: PriceTable, admins: frozenset[int]
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.prices = prices
        self.admins = admins
        self.user_limits = [
            limit
            for limit in (
                Limit("daily_tokens", "day", "tokens", config.daily_tokens),
                Limit("monthly_tokens", "month", "tokens", config.monthly_tokens),
                Limit("daily_usd", "day", "usd", config.daily_usd),
                Limit("monthly_usd", "month", "usd", config.monthly_usd),
            )
            if limit.value
        ]
        bot = Limit("bot_monthly_usd", "month", "usd", config.bot_monthly_usd, whole_bot=True)
        self.bot_limits = [bot] if bot.value else []

    def exempt(self, user_id: int | None) -> bool:
        return user_id is None or (self.config.admins_exempt and user_id in self.admins)

    def applying(self, user_id: int | None) -> list[Limit]:
        return self.bot_limits + ([] if self.exempt(user_id) else self.user_limits)

    async def check(self, user_id: int | None) -> Refusal | None:
        """The limit a new turn of this user would start over, or None (no store trip when
        no limit applies to them)."""
        if not self.applying(user_id):
            return None
        return self.over(user_id, await self.ledger.spend(user_id))

    def over(self, user_id: int | None, spend: UserSpend) -> Refusal | None:
        for limit in self.applying(user_id):
            if limit.used(spend) >= limit.value:
                return Refusal(limit, limit.reached(spend.periods))
        return None

    async def charge_chat(
        self, user_id: int | None, model: str, usage: Usage | None
    ) -> tuple[UserSpend, list[str]]:
        """Count one chat completion; returns the totals after it and any warnings due."""
        tokens = 0 if usage is None else usage.prompt_tokens + usage.completion_tokens
        return await self._charge(user_id, tokens, self.prices.chat_usd(model, usage))

    async def charge_audio(self, user_id: int | None, model: str, seconds: float) -> list[str]:
        """Count one transcription (priced by the minute of audio)."""
        return (await self._charge(user_id, 0, self.prices.audio_usd(model, seconds)))[1]

    async def charge_speech(self, user_id: int | None, model: str, characters: int) -> list[str]:
        """Count one speech synthesis (priced by the character)."""
        return (await self._charge(user_id, 0, self.prices.speech_usd(model, characters)))[1]

    async def _charge(
        self, user_id: int | None, tokens: int, usd: float | None
    ) -> tuple[UserSpend, list[str]]:
        spend = await self.ledger.charge(user_id, tokens, usd)
        return spend, await self._warnings(user_id, spend)

    async def _warnings(self, user_id: int | None, spend: UserSpend) -> list[str]:
        """Each limit passed `warn_at` of for the first time in its period, said once."""
        warn_at = self.config.warn_at
        notes = []
        for limit in self.applying(user_id):
            used = limit.used(spend)
            if not warn_at or used < warn_at * limit.value or used >= limit.value:
                continue
            seen = (spend.bot_month if limit.whole_bot else getattr(spend, limit.period)).flags
            if limit.name in seen:
                continue
            owner = None if limit.whole_bot else user_id
            if await self.ledger.flag(owner, limit.period, limit.name):
                share = round(100 * used / limit.value)
                who = (
                    "The assistant has used {} % of its"
                    if limit.whole_bot
                    else ("You've used {} % of your")
                )
                notes.append(
                    f"{who.format(share)} {limit.phrase()}. It resets "
                    f"{limit.resets(spend.periods)}."
                )
        return notes


def create_limits(
    config: Config, records: RecordStore, clock: Clock = SYSTEM_CLOCK
) -> tuple[Limits, MessageRate]:
    """The limits and the message rate the config asks for (their counters in `records`)."""
    zone = ZoneInfo(config.tools.default_timezone)
    ledger = Ledger(records, zone, clock, shared=config.store.type != "file")
    prices = PriceTable(config.llm.models, config.agents.prices)
    limits = Limits(config.limits, ledger, prices, frozenset(config.telegram.admin_user_ids))
    dollars = config.limits.daily_usd or config.limits.monthly_usd or config.limits.bot_monthly_usd
    models = {config.llm.model, *(agent.model for agent in config.agents.list if agent.model)}
    for model in sorted(models) if dollars else []:
        if prices.price(model) is None:
            logger.warning(
                "model %s has no price in llm.models: dollar limits do not see its calls "
                "(they are counted in tokens)",
                model,
            )
    shared = records if config.queue.type == "sqs" else None  # replicas share the buckets
    rate = MessageRate(config.limits.messages_per_minute, config.limits.over_rate, clock, shared)
    return limits, rate


class TurnMeter:
    """One turn's charges: counts each model call for the user who asked, keeps the warnings
    to show after the answer, and says when the tool loop must stop."""

    def __init__(self, limits: Limits, user_id: int | None) -> None:
        self.limits = limits
        self.user_id = user_id
        self.notes: list[str] = []
        self._last: UserSpend | None = None

    async def __call__(self, cost: Cost) -> None:
        spend, notes = await self.limits.charge_chat(self.user_id, cost.model, cost.usage)
        self._last = spend
        self.notes.extend(notes)

    def stop_note(self) -> str | None:
        """After a model call: why the turn must not call the model again, or None."""
        if self._last is None:
            return None
        refusal = self.limits.over(self.user_id, self._last)
        if refusal is None:
            return None
        logger.info("user %s: %s reached during a turn", self.user_id, refusal.limit.name)
        text = refusal.text.removeprefix("Sorry, ")
        return f"(I stopped here: {text[0].lower()}{text[1:]})"
