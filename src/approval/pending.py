"""Approval questions as records (kind "approval"), so an open question survives a restart.

A question is stored before it is asked, keyed by a random id (the buttons carry it), in its
user's index (a resumed turn finds the question of its tool call there) and in the due index
at its expiry (expired questions are found without a scan). Its state moves once, by a
version-checked update: pending -> approved | denied | timed_out, and approved -> started just
before the tool runs. The first answer wins; a second one (a double press, a press racing the
timeout) finds the question answered and changes nothing. Once it is decided, the record stays
`KEEP_S` (a late press is told it was answered) and is then removed by a sweep.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from src.approval.types import APPROVED, DENIED, TIMED_OUT, ApprovalRequest, Decision
from src.clock import SYSTEM_CLOCK, Clock
from src.errors import RecordConflictError
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

KIND = "approval"
PENDING, STARTED = "pending", "started"
VERDICTS = (APPROVED, DENIED, TIMED_OUT)
KEEP_S = 86400.0
_ID = re.compile(r"^[0-9a-f]{12}$")
_FIND_LIMIT = 50  # a user's newest questions looked through for a resumed call


class PendingApprovals:
    def __init__(self, records: RecordStore, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self.clock = clock

    async def create(
        self,
        *,
        conversation_id: str,
        user_id: int | None,
        chat_type: str,
        tool: str,
        call_id: str,
        arguments: str,
        timeout_s: float,
    ) -> ApprovalRequest:
        """Store a new open question; ConversationError if the store fails."""
        now = self.clock.time()
        data: dict[str, Any] = {
            "state": PENDING,
            "conversation_id": conversation_id,
            "chat_type": chat_type,
            "tool": tool,
            "call_id": call_id,
            "arguments": arguments,
            "asked_at": now,
            "expires_at": now + timeout_s,
        }
        record = Record(KIND, secrets.token_hex(6), data, 0, user_id, now + timeout_s)
        return request_of(await self.records.put(record))

    async def get(self, approval_id: str) -> Record | None:
        if not _ID.match(approval_id):
            return None
        return await self.records.get(KIND, approval_id)

    async def for_call(
        self, conversation_id: str, user_id: int | None, call_id: str
    ) -> Record | None:
        """The question asked about one tool call of a conversation (a turn resumed after a
        restart looks for it), read again from the record itself."""
        if user_id is None:
            return None  # the console's questions are not kept across runs
        for found in await self.records.find(KIND, user_id=user_id, limit=_FIND_LIMIT):
            data = found.data
            if data.get("conversation_id") == conversation_id and data.get("call_id") == call_id:
                return await self.records.get(KIND, found.key)
        return None

    async def shown(self, approval_id: str, where: dict[str, Any]) -> None:
        """Note where the question was put (a message id), for showing the outcome later."""

        def note(record: Record) -> Record:
            if not record.version:
                return record
            return record.changed(data={**record.data, "shown": where})

        await self.records.update(KIND, approval_id, note)

    async def decide(self, approval_id: str, decision: Decision) -> tuple[Decision | None, bool]:
        """Write `decision` if the question is still open. Returns the decision as stored
        (None: no such question) and whether it is this one (False: answered before)."""
        now = self.clock.time()
        wrote = False

        def answer(record: Record) -> Record:
            nonlocal wrote
            wrote = False
            if not record.version or record.data.get("state") != PENDING:
                return record
            wrote = True
            data = {
                **record.data,
                "state": decision.verdict,
                "decided_by": decision.by,
                "decided_at": now,
                "always": decision.always,
            }
            return record.changed(data=data, due_at=now + KEEP_S)

        stored = await self.records.update(KIND, approval_id, answer)
        return (decision_of(stored) if stored is not None else None), wrote

    async def start(self, approval_id: str) -> bool:
        """Mark an approved question as acted on, just before the tool runs. False if it was
        already (the tool may have run before a restart: it must not run twice)."""
        started = False

        def take(record: Record) -> Record:
            nonlocal started
            started = record.version > 0 and record.data.get("state") == APPROVED
            if not started:
                return record
            return record.changed(data={**record.data, "state": STARTED})

        await self.records.update(KIND, approval_id, take)
        return started

    async def sweep(self, limit: int = 100) -> list[ApprovalRequest]:
        """Time out the open questions past their expiry (returned, so the channel can show
        it) and remove the answered ones kept long enough."""
        timed_out = []
        now = self.clock.time()
        for found in await self.records.find(KIND, due_before=now, limit=limit):
            if found.data.get("state") == PENDING:
                stored, wrote = await self.decide(found.key, Decision(TIMED_OUT))
                if wrote and stored is not None:
                    current = await self.records.get(KIND, found.key)
                    if current is not None:
                        timed_out.append(request_of(current))
            else:
                try:
                    await self.records.delete(KIND, found.key, found.version)
                except RecordConflictError:
                    pass  # it changed meanwhile: the next sweep looks again
        if timed_out:
            logger.info("%d approval question(s) ran out of time unanswered", len(timed_out))
        return timed_out


def request_of(record: Record) -> ApprovalRequest:
    data = record.data
    return ApprovalRequest(
        id=record.key,
        conversation_id=str(data.get("conversation_id", "")),
        user_id=record.user_id,
        chat_type=str(data.get("chat_type", "private")),
        tool=str(data.get("tool", "")),
        call_id=str(data.get("call_id", "")),
        arguments=str(data.get("arguments", "")),
        asked_at=float(data.get("asked_at", 0.0)),
        expires_at=float(data.get("expires_at", 0.0)),
        shown=data.get("shown"),
    )


def decision_of(record: Record) -> Decision | None:
    """The stored answer, None while the question is open. A started question was approved."""
    data = record.data
    state = data.get("state")
    if state == STARTED:
        state = APPROVED
    if state not in VERDICTS:
        return None
    by = data.get("decided_by")
    return Decision(str(state), by if isinstance(by, int) else None, bool(data.get("always")))


def state_of(record: Record) -> str:
    return str(record.data.get("state", PENDING))
