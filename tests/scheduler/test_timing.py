"""When entries run: delays, ISO times in the user's zone, cron repeats across DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from src.errors import ToolArgumentError
from src.scheduler.timing import check_cron, first_run, next_slot, parse_at

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=BERLIN).timestamp()  # a Tuesday, CEST


def test_a_delay_counts_from_now() -> None:
    assert first_run(NOW, BERLIN, delay_seconds=90) == NOW + 90


def test_a_time_without_an_offset_is_the_users_zone() -> None:
    due = first_run(NOW, BERLIN, at="2026-10-20T18:30")
    assert datetime.fromtimestamp(due, BERLIN).hour == 18
    utc = first_run(NOW, BERLIN, at="2026-10-20T18:30Z")
    assert utc - due == 2 * 3600  # 18:30 UTC is 20:30 in Berlin (CEST)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"delay_seconds": 5, "at": "2026-10-21T09:00"}, "either delay_seconds or at"),
        ({}, "give delay_seconds or at"),
        ({"delay_seconds": 0}, "positive"),
        ({"delay_seconds": "10"}, "whole number"),
        ({"delay_seconds": True}, "whole number"),
        ({"at": "2026-10-20T11:00"}, "in the past"),
        ({"at": "tomorrow at nine"}, "ISO 8601"),
        ({"at": "2040-01-01T00:00"}, "five years"),
    ],
)
def test_bad_times_are_refused_with_a_reason(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ToolArgumentError, match=message):
        first_run(NOW, BERLIN, **arguments)  # type: ignore[arg-type]


def test_a_repeat_starts_at_its_first_slot_at_or_after_the_start() -> None:
    due = first_run(NOW, BERLIN, repeat="0 8 * * 1-5")
    assert datetime.fromtimestamp(due, BERLIN) == datetime(2026, 10, 21, 8, 0, tzinfo=BERLIN)
    later = first_run(NOW, BERLIN, at="2026-10-23T09:00", repeat="0 8 * * 1-5")
    assert datetime.fromtimestamp(later, BERLIN) == datetime(2026, 10, 26, 8, 0, tzinfo=BERLIN)


def test_nine_in_berlin_stays_nine_across_the_change_to_winter_time() -> None:
    slot = first_run(NOW, BERLIN, repeat="0 9 * * *")
    seen = []
    for _ in range(8):  # 21 Oct .. 28 Oct; clocks go back on Sunday 25 Oct
        local = datetime.fromtimestamp(slot, BERLIN)
        seen.append((local.day, local.hour, local.minute, local.utcoffset()))
        slot = next_slot("0 9 * * *", BERLIN, slot)
    assert {(hour, minute) for _, hour, minute, _ in seen} == {(9, 0)}
    assert [offset.total_seconds() / 3600 for *_, offset in seen if offset] == [2] * 4 + [1] * 4
    assert [day for day, *_ in seen] == list(range(21, 29))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 8 * *", "five-field"),
        ("61 8 * * *", "not a usable"),
        ("*/30 * * * * *", "five-field"),
        ("* * * * *", "fires every 60 s"),
    ],
)
def test_bad_or_too_frequent_repeats_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ToolArgumentError, match=message):
        check_cron(expression, BERLIN, 120, NOW)


def test_every_minute_is_allowed_at_the_default_interval() -> None:
    check_cron("* * * * *", BERLIN, 60, NOW)


def test_parse_at_keeps_an_explicit_offset() -> None:
    assert parse_at("2026-10-20T09:00+05:00", BERLIN).utcoffset().total_seconds() == 5 * 3600  # type: ignore[union-attr]
