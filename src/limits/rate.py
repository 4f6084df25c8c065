"""Messages per minute per user: a token bucket of `limits.messages_per_minute` messages that
refills evenly over a minute. Past it, a message either waits for the bucket (`over_rate:
wait`: answered after the pause, in order) or is not answered (`drop`); either way the user
is told once per burst, not once per message. Kept in memory: a restart forgives.

Replicas (queue.type: sqs) share the buckets: `take` keeps each user's bucket in a record of
the shared store ("rate"), changed with the store's version-checked `update`, so two
replicas taking a message of one user at once both count.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.clock import SYSTEM_CLOCK, Clock
from src.store.records import Record, RecordStore

KIND = "rate"


@dataclass(frozen=True)
class Admission:
    wait_s: float = 0.0  # how long to hold the message before its turn
    dropped: bool = False  # not to be answered (over_rate: drop)
    notify: bool = False  # the first message over the rate in this burst: tell the user


ADMIT = Admission()


class MessageRate:
    def __init__(
        self,
        per_minute: int,
        mode: str = "wait",
        clock: Clock = SYSTEM_CLOCK,
        shared: RecordStore | None = None,
    ) -> None:
        self.capacity = float(per_minute)
        self.shared = shared  # replicas: the buckets live in this store
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
        """Take one message of `user_id` from the bucket (this process's)."""
        if not self.enabled:
            return ADMIT
        now = self.clock.monotonic()
        tokens, at = self._buckets.get(user_id, (self.capacity, now))
        tokens, told, admission = self._step(tokens, at, user_id in self._told, now)
        self._buckets[user_id] = (tokens, now)
        if told:
            self._told.add(user_id)
        else:
            self._told.discard(user_id)
        return admission

    async def take(self, user_id: int) -> Admission:
        """`admit`, on the shared bucket when there is one (one conditional write)."""
        if self.shared is None or not self.enabled:
            return self.admit(user_id)
        now = self.clock.time()  # shared: wall time, the same on every replica
        result = ADMIT

        def change(record: Record) -> Record:
            nonlocal result
            data = record.data
            tokens = float(data.get("tokens", self.capacity))
            at = float(data.get("at", now))
            left, told, result = self._step(tokens, at, bool(data.get("told")), now)
            return record.changed(data={"tokens": left, "at": now, "told": told}, user_id=user_id)

        await self.shared.update(KIND, str(user_id), change)
        return result

    def _step(
        self, tokens: float, at: float, told: bool, now: float
    ) -> tuple[float, bool, Admission]:
        """One message against a bucket of `tokens` at time `at`: the tokens left, whether
        the user has been told of this burst, and the admission."""
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.per_second)
        if tokens >= 1:
            return tokens - 1, False, ADMIT  # the burst is over
        notify = not told
        if self.mode == "drop":
            return tokens, True, Admission(dropped=True, notify=notify)
        # wait: the message takes a token not yet there (the bucket goes below zero), so
        # those after it wait their turn behind it.
        return tokens - 1, True, Admission(wait_s=(1 - tokens) / self.per_second, notify=notify)
