"""Who may use the bot: the allowlist check, and how often a stranger is told so.

`Access` is the one place that answers "may this user talk to the bot?" and "is this user
an admin?". It is built from config today; a runtime allowlist kept in the store can stand
behind the same two methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from src.config import TelegramConfig

REFUSAL_INTERVAL_S = 600.0


class Access:
    """The allowlist: admins are always allowed."""

    def __init__(self, allowed: Iterable[int], admins: Iterable[int]) -> None:
        self._admins = frozenset(admins)
        self._allowed = frozenset(allowed) | self._admins

    @classmethod
    def from_config(cls, config: TelegramConfig) -> Access:
        return cls(config.allowed_user_ids, config.admin_user_ids)

    def is_allowed(self, user_id: int) -> bool:
        return user_id in self._allowed

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._admins


class RefusalThrottle:
    """A stranger is told they are not on the list at most once per `interval_s`."""

    def __init__(
        self,
        interval_s: float = REFUSAL_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._told_at: dict[int, float] = {}

    def should_tell(self, user_id: int) -> bool:
        now = self._clock()
        last = self._told_at.get(user_id)
        if last is not None and now - last < self.interval_s:
            return False
        self._told_at[user_id] = now
        return True
