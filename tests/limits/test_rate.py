"""The message rate (a token bucket per user) on the test clock, and the calendar periods."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from src.limits.periods import describe_day_reset, describe_month_reset, periods_at
from src.limits.rate import MessageRate
from tests.clock import TestClock


def test_a_full_bucket_admits_its_capacity_then_waits_evenly() -> None:
    rate = MessageRate(10, "wait", TestClock())
    admitted = [rate.admit(1) for _ in range(10)]
    assert all(a.wait_s == 0 and not a.notify for a in admitted)
    over = [rate.admit(1) for _ in range(3)]
    assert [a.wait_s for a in over] == pytest.approx([6.0, 12.0, 18.0])
    assert [a.notify for a in over] == [True, False, False]  # one notice per burst
    assert rate.admit(2).wait_s == 0  # another user has a bucket of their own


def test_the_bucket_refills_and_a_new_burst_is_told_again() -> None:
    clock = TestClock()
    rate = MessageRate(2, "wait", clock)
    rate.admit(1), rate.admit(1)
    assert rate.admit(1).notify
    clock._now += 90  # the reserved token and one more came back
    assert rate.admit(1).wait_s == 0  # the burst is over
    assert rate.admit(1).wait_s == 0
    assert rate.admit(1).notify  # ... so a new one is told


def test_drop_mode_drops_without_reserving() -> None:
    clock = TestClock()
    rate = MessageRate(60, "drop", clock)
    for _ in range(60):
        rate.admit(1)
    dropped = [rate.admit(1) for _ in range(5)]
    assert all(a.dropped for a in dropped) and [a.notify for a in dropped][:2] == [True, False]
    clock._now += 1  # one token back
    assert not rate.admit(1).dropped


def test_off_admits_everything() -> None:
    rate = MessageRate(0)
    assert not rate.enabled
    assert all(rate.admit(1).wait_s == 0 for _ in range(1000))


def test_periods_follow_the_zone_and_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-24 22:30 UTC is 00:30 on the 25th in Berlin, the day clocks go back (25 h).
    periods = periods_at(1_792_881_000, berlin)
    assert (periods.day, periods.month) == ("2026-10-25", "2026-10")
    assert periods.day_ends.isoformat() == "2026-10-26T00:00:00+01:00"
    assert describe_day_reset(periods) == "at midnight (CET), in 24 h 30 min"
    assert describe_month_reset(periods) == "on 1 November (CET), in 7 days"
    new_year = periods_at(1_798_761_599, ZoneInfo("UTC"))  # 2026-12-31 23:59:59
    assert new_year.month_ends.isoformat() == "2027-01-01T00:00:00+00:00"
