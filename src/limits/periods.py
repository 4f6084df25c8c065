"""Calendar periods in the configured time zone: which day and month a moment falls in, and
when each resets (the next local midnight, the first of the next month). The zone's rules
(daylight saving) come from zoneinfo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Periods:
    day: str  # "2026-12-06"
    month: str  # "2026-12"
    day_ends: datetime  # local midnight that starts the next day
    month_ends: datetime  # local midnight that starts the next month
    now: datetime


def periods_at(timestamp: float, zone: ZoneInfo) -> Periods:
    now = datetime.fromtimestamp(timestamp, zone)
    today = now.date()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return Periods(
        day=today.isoformat(),
        month=today.strftime("%Y-%m"),
        day_ends=_midnight(today + timedelta(days=1), zone),  # a 23 or 25 h day is fine too
        month_ends=_midnight(next_month, zone),
        now=now,
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def until(when: datetime, now: datetime) -> str:
    """ "in 3 h 20 min" / "in 12 min" / "in 2 days"."""
    seconds = max(0, int(when.timestamp() - now.timestamp()))  # real seconds, across DST
    if seconds >= 2 * 86400:
        return f"in {seconds // 86400} days"
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {max(minutes, 1)} min"


def describe_day_reset(periods: Periods) -> str:
    zone = periods.day_ends.tzname() or "local time"
    return f"at midnight ({zone}), {until(periods.day_ends, periods.now)}"


def describe_month_reset(periods: Periods) -> str:
    zone = periods.month_ends.tzname() or "local time"
    return f"on {periods.month_ends:%-d %B} ({zone}), {until(periods.month_ends, periods.now)}"
