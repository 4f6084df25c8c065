"""The audit trail: one record (kind "audit") per tool run, asked about or not.

Each entry says when, in which conversation, for which user, which tool, a sha256 of the
arguments (the arguments themselves only with `audit.keep_arguments`, secrets masked), the
outcome, how long it took, whether the user was asked and who answered. Keyed by time and a
random suffix; the user index lists a user's newest entries (the console's operator is user
0), and `due_at` is the entry's expiry (`audit.retention_days`), so removing old entries
reads the due index, never the whole store. Writing an entry never fails a turn: a store
error is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from src.approval.describe import cut, masked
from src.clock import SYSTEM_CLOCK, Clock
from src.config import AuditConfig
from src.errors import ConversationError
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

KIND = "audit"
CONSOLE_USER = 0  # the console's operator, in the user index
OK, ERROR, DENIED, TIMED_OUT = "ok", "error", "denied", "timed_out"
APPROVED_THEN_FAILED = "approved_then_failed"
CLEAN_EVERY_S = 3600.0
CLEAN_BATCH = 200
MAX_ARGUMENT_CHARS = 4000


@dataclass(frozen=True)
class AuditEntry:
    at: float  # wall-clock seconds
    conversation_id: str
    user_id: int  # CONSOLE_USER for the console's operator
    tool: str
    args_sha256: str
    outcome: str  # OK | ERROR | DENIED | TIMED_OUT | APPROVED_THEN_FAILED
    duration_s: float | None = None  # None: it did not run
    approval: str | None = None  # None: not asked | "button" | "always" | "console"
    decided_by: int | None = None  # who answered the question (or gave "always", earlier)
    arguments: str | None = None  # only with audit.keep_arguments (secrets masked)

    @classmethod
    def of(cls, record: Record) -> AuditEntry:
        known = {k: v for k, v in record.data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class AuditTrail:
    def __init__(
        self, records: RecordStore, config: AuditConfig, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.records = records
        self.config = config
        self.clock = clock
        self._cleaned_at: float | None = None

    def arguments(self, raw: str) -> str | None:
        """What an entry keeps of the arguments: nothing, unless `keep_arguments`."""
        if not self.config.keep_arguments:
            return None
        try:
            shown = json.dumps(masked(json.loads(raw or "{}")), ensure_ascii=False)
        except ValueError:
            shown = raw
        return cut(shown, MAX_ARGUMENT_CHARS)

    async def record(self, entry: AuditEntry) -> None:
        key = f"{int(entry.at * 1000):015d}-{secrets.token_hex(4)}"
        expires = entry.at + self.config.retention_days * 86400
        data = {k: v for k, v in asdict(entry).items() if v is not None}
        try:
            await self.records.put(Record(KIND, key, data, 0, entry.user_id, expires))
            await self._clean()
        except ConversationError as exc:
            logger.error(
                "conversation %s: tool %s ran but its audit entry was not stored: %s",
                entry.conversation_id,
                entry.tool,
                exc,
            )

    async def recent(self, users: Iterable[int], limit: int) -> list[AuditEntry]:
        """The newest `limit` entries of these users together, newest first."""
        found = await asyncio.gather(
            *(self.records.find(KIND, user_id=user, limit=limit) for user in set(users))
        )
        entries = [AuditEntry.of(record) for records in found for record in records]
        entries.sort(key=lambda entry: entry.at, reverse=True)
        return entries[:limit]

    async def _clean(self) -> None:
        """Remove expired entries, at most once an hour (and at the first write)."""
        now = self.clock.monotonic()
        if self._cleaned_at is not None and now - self._cleaned_at < CLEAN_EVERY_S:
            return
        self._cleaned_at = now
        expired = await self.records.find(KIND, due_before=self.clock.time(), limit=CLEAN_BATCH)
        for record in expired:
            await self.records.delete(KIND, record.key)
        if expired:
            logger.info("audit: %d expired entr(ies) removed", len(expired))
