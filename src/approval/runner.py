"""ToolRunner: every tool call of the agent loop goes through here.

A tool marked `confirm` (mcp.yml) runs only once the user approves: the question is stored
first (pending.py), then the channel's Approver puts it and waits; a denial or no answer by
`approval.timeout_s` gives the model a "declined" result instead of running the tool. A
standing "always for this tool in this chat" skips the question. Every call that runs, and
every one declined, leaves an audit entry (audit.py) and counts in /metrics.

Like ToolRegistry.execute, `run` returns a result for the model whatever happens to the tool;
only the store failing while a question is being stored raises (ConversationError), as any
other store failure in a turn does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from src.agents.types import Toolbox
from src.approval import always
from src.approval.audit import (
    APPROVED_THEN_FAILED,
    CONSOLE_USER,
    DENIED,
    ERROR,
    OK,
    AuditEntry,
    AuditTrail,
)
from src.approval.describe import arguments_text, digest
from src.approval.pending import STARTED, PendingApprovals, decision_of, request_of, state_of
from src.approval.types import TIMED_OUT, ApprovalRequest, Approver, Decision
from src.clock import SYSTEM_CLOCK, Clock
from src.config import ApprovalConfig, AuditConfig
from src.conversation.manager import INTERRUPTED, Finish
from src.conversation.message import Message
from src.errors import ConversationError
from src.llm.client import ToolCall
from src.ops import metrics
from src.store.records import Record, RecordStore
from src.tools.base import ToolResult
from src.tools.context import TurnContext, turn_or_none

logger = logging.getLogger(__name__)

DECLINED = "Not run: the user declined this tool call."
NO_ANSWER = (
    "Not run: the user did not answer the approval question within {seconds:g} s, which "
    "counts as declined."
)
NO_ONE_TO_ASK = "Not run: this tool needs the user's approval, and there is no way to ask here."
SWEEP_EVERY_S = 60.0


class ToolRunner:
    def __init__(
        self,
        records: RecordStore,
        approval: ApprovalConfig,
        audit: AuditConfig,
        clock: Clock = SYSTEM_CLOCK,
        approver: Approver | None = None,
    ) -> None:
        self.records = records
        self.timeout_s = approval.timeout_s
        self.clock = clock
        self.pending = PendingApprovals(records, clock)
        self.audit = AuditTrail(records, audit, clock)
        self.approver = approver  # set by the channel; None: gated tools do not run
        self._swept_at: float | None = None

    async def run(self, box: Toolbox, call: ToolCall, resumed: Record | None = None) -> ToolResult:
        """Run one tool call of the model (asking first when its tool says so). `resumed`:
        the stored question of a call a restart interrupted while it waited (see `resume`)."""
        turn = turn_or_none()
        decision: Decision | None = None
        approval: str | None = None
        if self._gated(box, call):
            refused, decision, approval = await self._approval(call, turn, resumed)
            if refused is not None:
                return refused
        started = self.clock.monotonic()
        result = await box.registry.execute(call.name, call.arguments, box.patterns)
        duration = max(0.0, self.clock.monotonic() - started)
        outcome = OK if not result.is_error else ERROR if decision is None else APPROVED_THEN_FAILED
        by = decision.by if decision is not None else None
        await self._audit(turn, call, outcome, duration, approval, by)
        return result

    async def resume(self, box: Toolbox, call: ToolCall) -> ToolResult | None:
        """A call left without a result by a restart: if it was waiting for the user's
        approval, wait for it again (or take the answer given meanwhile) and run it. None: it
        was not waiting for approval (the caller closes it as interrupted)."""
        turn = turn_or_none()
        if turn is None or self.approver is None or not self._gated(box, call):
            return None
        record = await self.pending.for_call(turn.conversation_id, turn.user_id, call.id)
        if record is None:
            return None
        logger.info(
            "conversation %s: resuming the approval question of tool %s",
            turn.conversation_id,
            call.name,
        )
        return await self.run(box, call, resumed=record)

    def finisher(self, toolbox_of: Callable[[str], Toolbox | None]) -> Finish:
        """ConversationManager.repair's `finish`: a call of the agent named in the assistant
        message (`toolbox_of` gives that agent's tools) that waited for approval resumes."""

        async def finish(asked: Message, call: dict[str, Any]) -> Message | None:
            box = toolbox_of(str(asked.metadata.get("agent", "")))
            function = call.get("function") or {}
            name, arguments = str(function.get("name", "")), str(function.get("arguments", ""))
            if box is None:
                return None
            tool_call = ToolCall(str(call.get("id", "")), name, arguments)
            result = await self.resume(box, tool_call)
            if result is None:
                return None
            metadata = {"tool": name, "is_error": result.is_error, "resumed": True}
            return Message("tool", result.content, tool_call_id=tool_call.id, metadata=metadata)

        return finish

    async def sweep(self) -> None:
        """Time out questions no turn waits for any more, and show that they did; remove the
        answered ones kept long enough. Store errors are logged."""
        self._swept_at = self.clock.monotonic()
        try:
            expired = await self.pending.sweep()
        except ConversationError as exc:
            logger.error("approvals: the store failed while looking for old questions: %s", exc)
            return
        if self.approver is not None:
            for request in expired:
                await self.approver.expired(request)

    async def _approval(
        self, call: ToolCall, turn: TurnContext | None, resumed: Record | None
    ) -> tuple[ToolResult | None, Decision | None, str | None]:
        """(the result instead of running, if it must not run; the decision; "always" or
        "asked") for a call whose tool asks first."""
        if turn is None or self.approver is None:
            await self._audit(turn, call, DENIED, None, None, None)
            return ToolResult(NO_ONE_TO_ASK, is_error=True), None, None
        decision = await always.standing(self.records, turn.conversation_id, call.name)
        approval = "always" if decision is not None else "asked"
        if decision is None:
            decision = await self._ask(call, turn, resumed)
            if decision is None:  # approved before a restart and maybe run: never twice
                return ToolResult(INTERRUPTED, is_error=True), None, approval
        metrics.record_approval(call.name, "always" if approval == "always" else decision.verdict)
        if decision.approved:
            return None, decision, approval
        outcome = TIMED_OUT if decision.verdict == TIMED_OUT else DENIED
        await self._audit(turn, call, outcome, None, approval, decision.by)
        text = NO_ANSWER.format(seconds=self.timeout_s) if outcome == TIMED_OUT else DECLINED
        return ToolResult(text, is_error=True), decision, approval

    def _gated(self, box: Toolbox, call: ToolCall) -> bool:
        """The call's tool asks first, and the registry would run the call (a call it refuses
        anyway, unknown or with wrong arguments, is not put to the user)."""
        tool = box.registry.get(call.name)
        if tool is None or not tool.confirm:
            return False
        return box.registry.refusal(call.name, call.arguments, box.patterns) is None

    async def _ask(
        self, call: ToolCall, turn: TurnContext, resumed: Record | None
    ) -> Decision | None:
        """The user's answer, as stored (the first answer wins). None: the question was
        approved and acted on before a restart."""
        assert self.approver is not None
        if resumed is None:
            if self._swept_at is None or self.clock.monotonic() - self._swept_at > SWEEP_EVERY_S:
                await self.sweep()
            request = await self.pending.create(
                conversation_id=turn.conversation_id,
                user_id=turn.user_id,
                chat_type=turn.chat_type,
                tool=call.name,
                call_id=call.id,
                arguments=arguments_text(call.arguments),
                timeout_s=self.timeout_s,
            )
            stored = None
        else:
            if state_of(resumed) == STARTED:
                return None
            request, stored = request_of(resumed), decision_of(resumed)
        if stored is None:
            stored = await self._answer(request)
        if stored.approved and not await self.pending.start(request.id):
            return None
        return stored

    async def _answer(self, request: ApprovalRequest) -> Decision:
        assert self.approver is not None
        answer = await self.approver.ask(request)
        stored, wrote = await self.pending.decide(request.id, answer)
        if wrote and answer.verdict == TIMED_OUT:
            await self.approver.expired(request)
        return stored or answer

    async def _audit(
        self,
        turn: TurnContext | None,
        call: ToolCall,
        outcome: str,
        duration: float | None,
        approval: str | None,
        by: int | None,
    ) -> None:
        user = turn.user_id if turn is not None else None
        entry = AuditEntry(
            at=self.clock.time(),
            conversation_id=turn.conversation_id if turn is not None else "",
            user_id=CONSOLE_USER if user is None else user,
            tool=call.name,
            args_sha256=digest(call.arguments),
            outcome=outcome,
            duration_s=None if duration is None else round(duration, 4),
            approval=approval,
            decided_by=by,
            arguments=self.audit.arguments(call.arguments),
        )
        await self.audit.record(entry)
