"""How often a stranger is told they are not on the list (the allowlist is src/access.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

REFUSAL_INTERVAL_S = 600.0


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
