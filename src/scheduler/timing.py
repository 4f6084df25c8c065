"""When an entry runs: a delay, an ISO 8601 time (in the user's time zone when it names no
offset) or a five-field cron expression, evaluated in the user's time zone with daylight
saving handled by zoneinfo (through cronsim, which walks local wall-clock time: 09:00 stays
09:00 across a change).

cronsim (healthchecks.io's cron evaluator, one small pure-Python module) over croniter: it is
maintained, has no dependencies, and handles DST transitions the way people expect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from src.errors import ToolArgumentError

SLOTS_CHECKED = 24  # repeats looked at for the shortest interval
MAX_DELAY_S = 5 * 366 * 86400


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolArgumentError(f"unknown time zone {name!r} (use an IANA name)") from None


def parse_at(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 date-time; one without an offset is in `tz`."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ToolArgumentError(
            f"cannot read {text[:60]!r} as a time: use ISO 8601, e.g. 2026-12-24T09:00"
        ) from None
    return when.replace(tzinfo=tz) if when.tzinfo is None else when


def check_cron(expression: str, tz: ZoneInfo, min_interval_s: float, now: float) -> None:
    """ToolArgumentError for an expression that is not five cron fields, never fires, or
    fires more often than every `min_interval_s` seconds."""
    fields = expression.split()
    if len(fields) != 5:
        raise ToolArgumentError("repeat must be a five-field cron expression, e.g. '0 8 * * 1-5'")
    try:
        slots = CronSim(expression, datetime.fromtimestamp(now, tz))
        times = [next(slots).timestamp() for _ in range(SLOTS_CHECKED)]
    except (CronSimError, StopIteration, ValueError) as exc:
        raise ToolArgumentError(f"repeat {expression!r} is not a usable cron expression") from exc
    shortest = min(b - a for a, b in pairwise(times))
    if shortest < min_interval_s:
        raise ToolArgumentError(
            f"repeat {expression!r} fires every {shortest:.0f} s; the shortest allowed "
            f"interval is {min_interval_s:.0f} s"
        )


def next_slot(expression: str, tz: ZoneInfo, after: float) -> float:
    """The first time strictly after `after` (epoch seconds) that the expression names."""
    start = datetime.fromtimestamp(after, tz)
    return next(CronSim(expression, start)).timestamp()


def first_run(
    now: float,
    tz: ZoneInfo,
    delay_seconds: object = None,
    at: object = None,
    repeat: str | None = None,
) -> float:
    """When a new entry first runs. Exactly one of `delay_seconds` and `at` (a repeat alone
    starts now); a repeat runs at its first slot at or after that start."""
    if delay_seconds is not None and at is not None:
        raise ToolArgumentError("give either delay_seconds or at, not both")
    if delay_seconds is not None:
        if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int):
            raise ToolArgumentError("delay_seconds must be a whole number of seconds")
        if not 0 < delay_seconds <= MAX_DELAY_S:
            raise ToolArgumentError("delay_seconds must be positive and at most five years")
        start = now + delay_seconds
    elif at is not None:
        if not isinstance(at, str):
            raise ToolArgumentError("at must be an ISO 8601 string")
        start = parse_at(at, tz).timestamp()
        if start <= now and repeat is None:
            shown = datetime.fromtimestamp(now, tz).isoformat(timespec="minutes")
            raise ToolArgumentError(f"that time is in the past (it is now {shown} in {tz.key})")
        if start - now > MAX_DELAY_S:
            raise ToolArgumentError("that is more than five years ahead")
    elif repeat is not None:
        start = now
    else:
        raise ToolArgumentError("give delay_seconds or at (or a repeat)")
    if repeat is None:
        return start
    return next_slot(repeat, tz, max(start, now) - 1e-6)


def local(timestamp: float, tz: ZoneInfo) -> str:
    """ "Thu 24 Dec 09:00 (Europe/Berlin)"."""
    when = datetime.fromtimestamp(timestamp, tz)
    return f"{when:%a %d %b %Y %H:%M} ({tz.key})"


def in_words(seconds: float) -> str:
    delta = timedelta(seconds=round(max(seconds, 0)))
    if delta.days:
        return f"{delta.days} d {delta.seconds // 3600} h"
    hours, rest = divmod(delta.seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
