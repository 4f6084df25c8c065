"""Who may use the bot (src/channels/telegram/access.py)."""

from __future__ import annotations

from src.channels.telegram.access import Access, RefusalThrottle


def test_admins_are_allowed_and_strangers_are_not() -> None:
    access = Access(allowed=[1, 2], admins=[9])
    assert access.is_allowed(1) and access.is_allowed(9)
    assert not access.is_allowed(3)
    assert access.is_admin(9) and not access.is_admin(1)
    assert not Access([], []).is_allowed(1)  # an empty list lets nobody in


def test_a_stranger_is_told_once_per_interval() -> None:
    now = [0.0]
    throttle = RefusalThrottle(interval_s=600, clock=lambda: now[0])
    assert throttle.should_tell(5)
    now[0] = 599.0
    assert not throttle.should_tell(5)
    assert throttle.should_tell(6)  # per user
    now[0] = 600.0
    assert throttle.should_tell(5)
