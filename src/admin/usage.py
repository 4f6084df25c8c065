"""The usage page's data: tokens and dollars per day and per user over the last 30 days, and
each user's day and month against the limits, from the spend ledger's records.

The ledger (src/limits/ledger.py) keeps one "spend" record per user per day and per month,
in the records' user index, and one per month for the whole bot. A user's last 30 days are
one `find` by user (newest first), so the page costs one query per known user (the admins,
config.yml's users and those added at run time), never a scan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from src.limits.ledger import KIND, Spent, UserSpend
from src.limits.policy import Limits
from src.store.records import RecordStore

DAYS = 30
RECORDS_PER_USER = DAYS + 8  # the days, this month's and last month's records, some spare


@dataclass(frozen=True)
class Budget:
    phrase: str  # "daily limit of 10,000 tokens"
    used: float  # share used, 0..1 (or more)


@dataclass(frozen=True)
class UserUsage:
    user_id: int
    days: dict[str, Spent]  # day (ISO) -> totals, the last 30 days only
    today: Spent
    month: Spent
    budgets: list[Budget]
    exempt: bool

    @property
    def tokens(self) -> int:
        return sum(spent.tokens for spent in self.days.values())

    @property
    def usd(self) -> float:
        return sum(spent.usd for spent in self.days.values())


@dataclass(frozen=True)
class Usage:
    days: list[str]  # oldest first, today last
    users: list[UserUsage]
    bot_month: Spent
    bot_budgets: list[Budget]

    def per_day(self, unit: str) -> list[tuple[str, float]]:
        """(day, total of `unit`: "tokens" or "usd") for every day, oldest first."""
        totals = dict.fromkeys(self.days, 0.0)
        for user in self.users:
            for day, spent in user.days.items():
                if day in totals:
                    totals[day] += spent.tokens if unit == "tokens" else spent.usd
        return list(totals.items())


async def read_usage(records: RecordStore, limits: Limits, users: list[int]) -> Usage:
    periods = limits.ledger.periods()
    today = date.fromisoformat(periods.day)
    days = [(today - timedelta(days=back)).isoformat() for back in range(DAYS - 1, -1, -1)]
    bot_record = await records.get(KIND, f"bot:month:{periods.month}")
    bot_month = Spent.of(bot_record.data if bot_record is not None else {})
    found = await asyncio.gather(
        *(records.find(KIND, user_id=user, limit=RECORDS_PER_USER) for user in users)
    )
    result = []
    for user, user_records in zip(users, found, strict=True):
        by_key = {record.key: Spent.of(record.data) for record in user_records}
        per_day = {day: by_key[f"user:{user}:day:{day}"] for day in days if _has(by_key, user, day)}
        today_spent = by_key.get(f"user:{user}:day:{periods.day}", Spent())
        month = by_key.get(f"user:{user}:month:{periods.month}", Spent())
        spend = UserSpend(periods, today_spent, month, bot_month)
        budgets = [
            Budget(limit.phrase(), limit.used(spend) / limit.value)
            for limit in limits.applying(user)
            if not limit.whole_bot
        ]
        result.append(UserUsage(user, per_day, today_spent, month, budgets, limits.exempt(user)))
    spend = UserSpend(periods, Spent(), Spent(), bot_month)
    bot_budgets = [
        Budget(limit.phrase(), limit.used(spend) / limit.value) for limit in limits.bot_limits
    ]
    return Usage(days, result, bot_month, bot_budgets)


def _has(by_key: dict[str, Spent], user: int, day: str) -> bool:
    return f"user:{user}:day:{day}" in by_key
