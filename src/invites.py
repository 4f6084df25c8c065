"""One-time invitations: an admin's /invite makes a code, a stranger's /start <code> spends it.

A code is a record (kind "invite", key = the code) whose `due_at` is its expiry, so expired
codes are found through the due index (and cleared whenever a new code is made). Spending a
code is one `RecordStore.update` that marks the record used: a write conditional on the
version it read, so of two people who send the same code at once, exactly one gets it. (The
record is marked, not deleted: a delete at a version also "succeeds" on a record another
process deleted meanwhile, so two deleters could both believe they won.) A used code is
cleared with the expired ones once its time is up.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass

from src.clock import SYSTEM_CLOCK, Clock
from src.errors import RecordConflictError, UserInputError
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

KIND = "invite"
CODE_BYTES = 8  # secrets.token_urlsafe(8): 11 characters
# What Telegram allows in a /start deep-link payload; anything else is refused unread.
CODE_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
MAX_CODE_CHARS = 64
USED_BY = "used_by"
NOT_VALID = "That invitation is not valid or has expired. Ask for a new one."


@dataclass(frozen=True)
class Invitation:
    code: str
    by: int | None  # the admin who made it (None: the console)
    created_at: float  # seconds since the epoch
    expires_at: float


class Invites:
    def __init__(self, records: RecordStore, ttl_s: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self.ttl_s = ttl_s
        self.clock = clock

    async def create(self, by: int | None) -> Invitation:
        """A new code that works once until `ttl_s` from now (ConversationError if the store
        fails)."""
        now = self.clock.time()
        await self._clear_expired(now)
        invitation = Invitation(secrets.token_urlsafe(CODE_BYTES), by, now, now + self.ttl_s)
        data = {"by": by, "at": now}
        # Version 0: the write fails rather than replace a code that exists (it never does).
        await self.records.put(Record(KIND, invitation.code, data, due_at=invitation.expires_at))
        logger.info("invitation created by %s, valid until %.0f", by, invitation.expires_at)
        return invitation

    async def take(self, code: str, user_id: int) -> Invitation:
        """Spend `code` for `user_id`: it works for one user (again for that user, until it
        expires). UserInputError (NOT_VALID) for a code that is unknown, expired or used by
        someone else; ConversationError if the store fails."""
        if not code or len(code) > MAX_CODE_CHARS or not set(code) <= CODE_CHARS:
            raise UserInputError(NOT_VALID)
        now = self.clock.time()
        spent: list[Record] = []

        def spend(record: Record) -> Record:
            spent.clear()  # the change runs again, on a newer read, after a conflict
            if not record.version or _expires(record) <= now:
                return record  # unknown or expired: write nothing
            if USED_BY in record.data:
                if record.data[USED_BY] == user_id:  # the same user again (say, after the
                    spent.append(record)  # store failed to add them): still theirs
                return record
            spent.append(record)
            return record.changed(data={**record.data, USED_BY: user_id, "used_at": now})

        await self.records.update(KIND, code, spend)
        if not spent:
            logger.info("user %s: invitation refused (unknown, used or expired)", user_id)
            raise UserInputError(NOT_VALID)
        record = spent[0]
        by = record.data.get("by")
        return Invitation(
            code,
            by if isinstance(by, int) else None,
            float(record.data.get("at", 0.0)),
            _expires(record),
        )

    async def _clear_expired(self, now: float) -> None:
        for record in await self.records.find(KIND, due_before=now):
            try:
                await self.records.delete(KIND, record.key, record.version)
            except RecordConflictError:
                pass  # someone tried it just now; the next new code clears it


def _expires(record: Record) -> float:
    return record.due_at if record.due_at is not None else 0.0
