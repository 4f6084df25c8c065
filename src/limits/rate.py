"""Messages per minute per user: a token bucket of `limits.messages_per_minute` messages that
refills evenly over a minute. Past it, a message either waits for the bucket (`over_rate:
wait`: answered after the pause, in order) or is not answered (`drop`); either way the user
is told once per burst, not once per message. Kept in memory: a restart forgives.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True)
class Admission:
    wait_s: float = 0.0  # how long to hold the message before its turn
    dropped: bool = False  # not to be answered (over_rate: drop)
    notify: bool = False  # the first message over the rate in this burst: tell the user


ADMIT = Admission()


class MessageRate:
    def __init__(self, per_minute: int, mode: str = "wait", clock: Clock = SYSTEM_CLOCK) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.mode = mode
        self.clock = clock
        # user -> (tokens, at); only allowed users get here, so the allowlist bounds it
        self._buckets: dict[int, tuple[float, float]] = {}
        self._told: set[int] = set()  # users told about the burst they are in

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def admit(self, user_id: int) -> Admission:
        """Take one message of `user_id` from the bucket."""
        if not self.enabled:
            return ADMIT
        now = self.clock.monotonic()
        tokens, at = self._buckets.get(user_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.per_second)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now)
            self._told.discard(user_id)  # the burst is over
            return ADMIT
        notify = user_id not in self._told
        self._told.add(user_id)
        if self.mode == "drop":
            self._buckets[user_id] = (tokens, now)
            return Admission(dropped=True, notify=notify)
        # wait: the message takes a token not yet there (the bucket goes below zero), so
        # those after it wait their turn behind it.
        self._buckets[user_id] = (tokens - 1, now)
        return Admission(wait_s=(1 - tokens) / self.per_second, notify=notify)
