"""The spend ledger: what each user spent today and this month, and the bot this month.

Counters live in the records facility (kind "spend"), one record per user per day, per user
per month, and one for the whole bot per month, each added to atomically (`RecordStore.add`:
two turns finishing at once both count; on DynamoDB an `ADD`). Dollars are kept as whole
nano-dollars so that sums stay exact.

What a check reads is kept in memory: one process owns a file store, so after the first read
the totals are known without a store trip per turn. A store shared by several processes
(DynamoDB) is read again before each check (`shared=True`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from src.clock import SYSTEM_CLOCK, Clock
from src.limits.periods import Periods, periods_at
from src.store.records import RecordStore

KIND = "spend"
NANO = 1_000_000_000


@dataclass(frozen=True)
class Spent:
    """One period's totals."""

    tokens: int = 0
    usd: float = 0.0
    requests: int = 0
    unpriced: int = 0  # requests of models without a price (in tokens only)
    flags: frozenset[str] = frozenset()  # warnings already given in this period

    @classmethod
    def of(cls, counters: Mapping[str, int]) -> Spent:
        return cls(
            tokens=int(counters.get("tokens", 0)),
            usd=int(counters.get("nusd", 0)) / NANO,
            requests=int(counters.get("requests", 0)),
            unpriced=int(counters.get("unpriced", 0)),
            flags=frozenset(k[5:] for k, v in counters.items() if k.startswith("flag_") and v),
        )


@dataclass(frozen=True)
class UserSpend:
    periods: Periods
    day: Spent
    month: Spent
    bot_month: Spent


class Ledger:
    def __init__(
        self,
        records: RecordStore,
        zone: ZoneInfo,
        clock: Clock = SYSTEM_CLOCK,
        shared: bool = False,
    ) -> None:
        self.records = records
        self.zone = zone
        self.clock = clock
        self.shared = shared
        self._known: dict[str, Spent] = {}  # record key -> totals as last read or written

    def periods(self) -> Periods:
        return periods_at(self.clock.time(), self.zone)

    async def spend(self, user_id: int | None) -> UserSpend:
        """This day's and month's totals of a user (None: the bot's only) and the bot's."""
        periods = self.periods()
        keys = _keys(user_id, periods)
        missing = keys if self.shared else [k for k in keys if k not in self._known]
        if missing:
            found = await asyncio.gather(*(self.records.get(KIND, key) for key in missing))
            for key, record in zip(missing, found, strict=True):
                self._known[key] = Spent.of(record.data if record is not None else {})
            self._forget_old(periods)
        day, month, bot = (self._known.get(k, Spent()) for k in _named(user_id, periods))
        return UserSpend(periods, day, month, bot)

    async def charge(
        self, user_id: int | None, tokens: int, usd: float | None, requests: int = 1
    ) -> UserSpend:
        """Count one model call (usd None: the model has no price) for the user, today and
        this month, and for the bot this month. Returns the totals after it."""
        periods = self.periods()
        amounts = {"tokens": tokens, "requests": requests}
        if usd is None:
            amounts["unpriced"] = requests
        else:
            amounts["nusd"] = round(usd * NANO)
        records = await self.records.add_many(KIND, dict(_owners(user_id, periods)), amounts)
        for key, record in records.items():
            self._known[key] = Spent.of(record.data)
        self._forget_old(periods)
        day, month, bot = (self._known.get(k, Spent()) for k in _named(user_id, periods))
        return UserSpend(periods, day, month, bot)

    async def flag(self, user_id: int | None, period: str, name: str) -> bool:
        """Mark a warning as given for this user's day or month ("day" | "month"); True only
        for the first caller in that period (so a warning is given once)."""
        periods = self.periods()
        key = _user_key(user_id, period, periods) if user_id is not None else _bot_key(periods)
        record = await self.records.add(KIND, key, {f"flag_{name}": 1}, user_id=user_id)
        self._known[key] = Spent.of(record.data)
        return record.data.get(f"flag_{name}", 0) == 1

    def _forget_old(self, periods: Periods) -> None:
        """Totals of past days and months leave memory (they stay stored)."""
        if len(self._known) > 4096:
            current = (f":{periods.day}", f":{periods.month}")
            self._known = {k: v for k, v in self._known.items() if k.endswith(current)}


def _user_key(user_id: int, period: str, periods: Periods) -> str:
    return (
        f"user:{user_id}:day:{periods.day}"
        if period == "day"
        else (f"user:{user_id}:month:{periods.month}")
    )


def _bot_key(periods: Periods) -> str:
    return f"bot:month:{periods.month}"


def _named(user_id: int | None, periods: Periods) -> list[str]:
    """The keys of (user day, user month, bot month); a user of None has no own keys."""
    if user_id is None:
        return ["", "", _bot_key(periods)]
    return [
        _user_key(user_id, "day", periods),
        _user_key(user_id, "month", periods),
        _bot_key(periods),
    ]


def _keys(user_id: int | None, periods: Periods) -> list[str]:
    return [key for key in _named(user_id, periods) if key]


def _owners(user_id: int | None, periods: Periods) -> list[tuple[str, int | None]]:
    keys = _keys(user_id, periods)
    return [(key, user_id if key.startswith("user:") else None) for key in keys]
