"""Each user's facts: kept as records (both backends alike), served from a per-user cache.

A turn must not read 5,000 records to build its prompt, so a user's facts are read once
(`records.find(kind, user_id=..., limit=max_facts_per_user)`, newest first) into a
`UserFacts`: the facts in order and a BM25 index over them. `remember` and `forget` change
the record first, then the cache, so the cache never holds what the store does not.

Staleness: on the file store this process is the only writer, so the cache is always right.
On DynamoDB several replicas may write a user's facts; a replica rereads a user's facts
when its copy is older than `memory.refresh_s` (60 s by default), and `/memory` always
rereads. Within that window a replica may miss a fact another replica just took, never
one of its own. A bounded number of users are cached (the least recently used leave).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import OrderedDict
from collections.abc import Iterator

from src.clock import SYSTEM_CLOCK, Clock
from src.config import MemoryConfig
from src.errors import FactRefusedError
from src.memory.facts import (
    KIND,
    MIN_ID_PREFIX,
    Fact,
    clean,
    fact_id,
    from_record,
    record_key,
    to_data,
)
from src.memory.ranking import BM25Index
from src.store.locks import KeyedLocks
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

MAX_CACHED_USERS = 256
DELETES_AT_ONCE = 16
_ORIGIN = ("at", "conversation", "source")


class UserFacts:
    """One user's facts, oldest to newest, and their index."""

    def __init__(self, loaded_at: float) -> None:
        self.loaded_at = loaded_at
        self._facts: dict[str, Fact] = {}  # insertion order: oldest first
        self.index = BM25Index()
        self.chars = 0  # of all the facts' lines, a newline each: does everything fit?

    def __len__(self) -> int:
        return len(self._facts)

    def get(self, identifier: str) -> Fact | None:
        return self._facts.get(identifier)

    def newest(self) -> Iterator[Fact]:
        return reversed(self._facts.values())

    def put(self, fact: Fact) -> None:
        self.drop(fact.id)
        self._facts[fact.id] = fact  # now the newest
        self.index.add(fact.id, fact.text)
        self.chars += len(fact.line) + 1

    def drop(self, identifier: str) -> None:
        old = self._facts.pop(identifier, None)
        if old is not None:
            self.index.remove(identifier)
            self.chars -= len(old.line) + 1

    def with_prefix(self, prefix: str) -> list[Fact]:
        """The fact with this id, else those whose id starts so (at least 4 characters)."""
        wanted = prefix.strip().lower()
        exact = self._facts.get(wanted)
        if exact is not None:
            return [exact]
        if len(wanted) < MIN_ID_PREFIX:
            return []
        return [fact for key, fact in self._facts.items() if key.startswith(wanted)]

    def search(self, query: str, limit: int) -> list[tuple[float, Fact]]:
        """The facts that share words with `query`, most relevant first (ties: newest)."""
        scored = self.index.scores(query)
        best = heapq.nlargest(
            limit, scored.items(), key=lambda item: (item[1], self._facts[item[0]].updated)
        )
        return [(score, self._facts[key]) for key, score in best]


class FactStore:
    def __init__(
        self,
        records: RecordStore,
        config: MemoryConfig,
        clock: Clock = SYSTEM_CLOCK,
        refresh_s: float | None = None,
    ) -> None:
        """`refresh_s` None: this process is the only writer (the file store)."""
        self.records = records
        self.config = config
        self.clock = clock
        self.refresh_s = refresh_s
        self._users: OrderedDict[int, UserFacts] = OrderedDict()
        self._locks = KeyedLocks()

    async def user(self, owner: int, fresh: bool = False) -> UserFacts:
        """The owner's facts, read from the store on first use, when `fresh` is asked, or
        when the copy is older than `refresh_s`."""
        async with self._locks.hold(str(owner)):
            return await self._user(owner, fresh)

    async def _user(self, owner: int, fresh: bool = False) -> UserFacts:
        cached = self._users.get(owner)
        now = self.clock.monotonic()
        if cached is not None and not fresh and not self._stale(cached, now):
            self._users.move_to_end(owner)
            return cached
        found = await self.records.find(KIND, user_id=owner, limit=self.config.max_facts_per_user)
        facts = UserFacts(now)
        for record in reversed(found):  # oldest first, so the newest ends up last
            fact = from_record(record)
            if fact is not None:
                facts.put(fact)
        self._users[owner] = facts
        self._users.move_to_end(owner)
        while len(self._users) > MAX_CACHED_USERS:
            self._users.popitem(last=False)
        logger.debug("memory: %d fact(s) of user %s read", len(facts), owner)
        return facts

    def _stale(self, facts: UserFacts, now: float) -> bool:
        return self.refresh_s is not None and now - facts.loaded_at >= self.refresh_s

    async def remember(
        self, owner: int, text: str, conversation: str = "", source: str = "tool"
    ) -> tuple[Fact, bool]:
        """Keep one fact; returns it and whether it is new (else it was known and is now the
        newest again). FactRefusedError for an empty or too long fact, or a full memory."""
        kept = clean(text)
        if not kept:
            raise FactRefusedError("the fact is empty: there was nothing to remember")
        limit = self.config.max_fact_chars
        if len(kept) > limit:
            raise FactRefusedError(
                f"that fact is {len(kept):,} characters long; a fact may have at most "
                f"{limit:,}. Keep only what matters, in a sentence or two."
            )
        identifier = fact_id(kept)
        async with self._locks.hold(str(owner)):
            facts = await self._user(owner)
            if facts.get(identifier) is None and len(facts) >= self.config.max_facts_per_user:
                raise FactRefusedError(
                    f"the user's memory is full ({len(facts):,} facts). Ask them which facts "
                    "to forget first (forget, or their /forget command)."
                )
            created = False

            def change(current: Record) -> Record:
                nonlocal created
                created = not current.version
                first = Fact(identifier, kept, self.clock.time(), 0.0, conversation, source)
                data = to_data(first)
                if current.version:  # known: the latest wording, but when and where first said
                    data.update({k: current.data[k] for k in _ORIGIN if k in current.data})
                return current.changed(data=data, user_id=owner)

            record = await self.records.update(KIND, record_key(owner, identifier), change)
            assert record is not None  # `change` always writes
            fact = from_record(record)
            assert fact is not None
            facts.put(fact)
            return fact, created

    async def forget(self, owner: int, identifier: str) -> None:
        """Delete one fact by its full id (deleting a missing one is not an error)."""
        async with self._locks.hold(str(owner)):
            facts = await self._user(owner)
            await self.records.delete(KIND, record_key(owner, identifier))
            facts.drop(identifier)

    async def forget_all(self, owner: int) -> int:
        """Delete every fact of the owner (as the store has them now); returns how many."""
        async with self._locks.hold(str(owner)):
            facts = await self._user(owner, fresh=True)
            identifiers = [fact.id for fact in facts.newest()]
            for start in range(0, len(identifiers), DELETES_AT_ONCE):
                batch = identifiers[start : start + DELETES_AT_ONCE]
                await asyncio.gather(
                    *(self.records.delete(KIND, record_key(owner, key)) for key in batch)
                )
                for key in batch:
                    facts.drop(key)
            return len(identifiers)
