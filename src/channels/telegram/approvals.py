"""Approval questions on Telegram (the Approver of src/approval/): one message in the
conversation with the tool, its arguments and the buttons Approve, Deny and "Always for this
tool in this chat"; a press answers it; the message is then edited to show the outcome.

The waiting turn holds a future keyed by the approval id. A press writes the answer to the
store first (version-checked: the first answer wins, a second press is told it was answered)
and only then wakes the turn, so a press that comes while no turn waits (the bot restarted)
still counts: the resumed turn finds it. Only the user whose message started the turn, or
an admin, can answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from src.access import Access
from src.approval import always
from src.approval.pending import PendingApprovals, decision_of, request_of
from src.approval.types import APPROVED, DENIED, TIMED_OUT, ApprovalRequest, Decision
from src.channels.telegram.formatting import Part
from src.channels.telegram.sender import Sender, Target
from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ChannelError, ConversationError
from src.store.records import RecordStore

logger = logging.getLogger(__name__)

PREFIX = "approval:"  # callback data: approval:<id>:<y|n|a>
APPROVE, DENY, ALWAYS = "y", "n", "a"
NOT_YOURS = "Only the person who asked, or an admin, can answer this."
GONE = "This question is no longer open."


@dataclass(frozen=True)
class Press:
    reply: str  # the short answer shown to whoever pressed
    outcome: str | None = None  # the question's new text (None: leave it)


class TelegramApprover:
    def __init__(
        self,
        pending: PendingApprovals,
        records: RecordStore,
        access: Access,
        sender: Sender,
        timeout_s: float,
        clock: Clock = SYSTEM_CLOCK,
        poll_s: float | None = None,
    ) -> None:
        self.pending = pending
        # Replicas: a press may be handled by another one; the waiting turn reads the store
        # every `poll_s` for an answer it was not woken for.
        self.poll_s = poll_s
        self.records = records
        self.access = access
        self.sender = sender
        self.timeout_s = timeout_s
        self.clock = clock
        self._waiting: dict[str, asyncio.Future[Decision]] = {}

    async def ask(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = future  # before reading: a press from now on wakes us
        try:
            stored = await self.pending.get(request.id)
            answered = decision_of(stored) if stored is not None else None
            if answered is not None:  # pressed while no turn waited (a restart)
                return answered
            if request.shown is None and not await self._show(request):
                return Decision(DENIED)
            remaining = request.expires_at - self.clock.time()
            if remaining <= 0:
                return Decision(TIMED_OUT)
            timer = self.clock.call_later(remaining, lambda: _settle(future, Decision(TIMED_OUT)))
            polling = asyncio.create_task(self._poll(request.id, future)) if self.poll_s else None
            try:
                return await future
            finally:
                timer.cancel()
                if polling is not None:
                    polling.cancel()
        finally:
            self._waiting.pop(request.id, None)

    async def _poll(self, approval_id: str, future: asyncio.Future[Decision]) -> None:
        """Settle `future` with an answer another replica stored."""
        assert self.poll_s is not None
        while not future.done():
            await self.clock.sleep(self.poll_s)
            try:
                stored = await self.pending.get(approval_id)
            except ConversationError as exc:
                logger.warning("approval %s: cannot read the answer (%s)", approval_id, exc)
                continue
            answered = decision_of(stored) if stored is not None else None
            if answered is not None:
                _settle(future, answered)

    async def expired(self, request: ApprovalRequest) -> None:
        if request.shown is None:  # asked in this run: where it was shown is in the record
            record = await self.pending.get(request.id)
            request = request_of(record) if record is not None else request
        await self.show_outcome(request, outcome(request, Decision(TIMED_OUT), self.timeout_s))

    async def press(self, data: str, user_id: int) -> Press:
        """A button under a question pressed by `user_id` (ConversationError if the store
        fails: nothing was decided then)."""
        approval_id, _, choice = data.removeprefix(PREFIX).partition(":")
        record = await self.pending.get(approval_id)
        if record is None or choice not in (APPROVE, DENY, ALWAYS):
            return Press(GONE)
        request = request_of(record)
        if record.user_id != user_id and not self.access.is_admin(user_id):
            logger.info("approval %s: a press by user %s, who may not answer", record.key, user_id)
            return Press(NOT_YOURS)
        if self.clock.time() >= request.expires_at:
            decision = Decision(TIMED_OUT)
        else:
            decision = Decision(DENIED if choice == DENY else APPROVED, user_id, choice == ALWAYS)
        stored, wrote = await self.pending.decide(approval_id, decision)
        if not wrote or stored is None:
            return Press(f"Already answered: {_verdict(stored)}.")
        if decision.always:
            await always.grant(self.records, request.conversation_id, request.tool, user_id)
        waiting = self._waiting.get(approval_id)
        if waiting is not None:
            _settle(waiting, decision)
        logger.info("approval %s: %s by user %s", record.key, decision.verdict, user_id)
        reply = "Too late: the time to answer is over." if decision.verdict == TIMED_OUT else ""
        shown = outcome(request, decision, self.timeout_s)
        return Press(reply or _verdict(decision).capitalize() + ".", shown)

    async def show_outcome(self, request: ApprovalRequest, text: str) -> None:
        """Edit the question to `text`; nothing if it was never shown."""
        shown = request.shown or {}
        chat, message = shown.get("chat_id"), shown.get("message_id")
        if isinstance(chat, int) and isinstance(message, int):
            await self.edit(chat, message, text)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Show the outcome in the question's place (its buttons go)."""
        await self.sender.edit(Target(chat_id), message_id, Part(text), final=True)

    def close(self) -> None:
        """Shutdown: the turns waiting for an answer are abandoned (cancelled); the inbox still
        owes them, so they resume after the restart and find the question where it was."""
        for future in self._waiting.values():
            future.cancel()

    async def _show(self, request: ApprovalRequest) -> bool:
        chat, _, thread = request.conversation_id.partition(":")
        target = Target(
            int(chat), int(thread) if thread else None, private=request.chat_type == "private"
        )
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Approve", callback_data=_data(request, APPROVE)),
                    InlineKeyboardButton("Deny", callback_data=_data(request, DENY)),
                ],
                [
                    InlineKeyboardButton(
                        "Always for this tool in this chat", callback_data=_data(request, ALWAYS)
                    )
                ],
            ]
        )
        try:
            message_id = await self.sender.send(
                target, Part(question(request, self.timeout_s)), True, buttons
            )
        except ChannelError as exc:
            logger.error(
                "conversation %s: the approval question could not be sent (%s); not run",
                request.conversation_id,
                exc,
            )
            return False
        await self.pending.shown(request.id, {"chat_id": target.chat_id, "message_id": message_id})
        return True


def question(request: ApprovalRequest, timeout_s: float) -> str:
    return (
        f"🔐 May I run this tool?\nTool: {request.tool}\n{request.arguments}\n\n"
        f"No answer within {_duration(timeout_s)} counts as Deny."
    )


def outcome(request: ApprovalRequest, decision: Decision, timeout_s: float) -> str:
    by = f" (by {decision.by})" if decision.by is not None else ""
    if decision.verdict == TIMED_OUT:
        said = f"⌛ No answer within {_duration(timeout_s)}: not run."
    elif decision.verdict == DENIED:
        said = f"❌ Denied{by}: not run."
    elif decision.always:
        said = f"✅ Approved{by}, and from now on for {request.tool} in this chat."
    else:
        said = f"✅ Approved{by}."
    return f"{question(request, timeout_s)}\n\n{said}"


def _verdict(decision: Decision | None) -> str:
    if decision is None:
        return "no longer open"
    if decision.verdict == TIMED_OUT:
        return "it timed out"
    return "approved" if decision.approved else "denied"


def _data(request: ApprovalRequest, choice: str) -> str:
    return f"{PREFIX}{request.id}:{choice}"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _settle(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)
