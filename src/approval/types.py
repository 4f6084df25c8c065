"""The question put to the user before a tool runs, their answer, and who puts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

APPROVED, DENIED, TIMED_OUT = "approved", "denied", "timed_out"


@dataclass(frozen=True)
class ApprovalRequest:
    id: str  # the approval's record key, and what its buttons carry
    conversation_id: str
    user_id: int | None  # who started the turn (None: the console's operator)
    chat_type: str  # private | group | supergroup | console | ...
    tool: str  # the name the model called
    call_id: str  # the model's tool call id
    arguments: str  # as shown: formatted, secrets masked, long values cut (describe.py)
    asked_at: float  # wall-clock seconds
    expires_at: float  # no answer by then counts as a denial
    shown: dict[str, Any] | None = None  # where the question already is (a resumed turn)


@dataclass(frozen=True)
class Decision:
    verdict: str  # APPROVED | DENIED | TIMED_OUT
    by: int | None = None  # who answered (None: nobody, or the console's operator)
    always: bool = False  # "always for this tool in this chat"

    @property
    def approved(self) -> bool:
        return self.verdict == APPROVED


class Approver(Protocol):
    """A channel's way of asking. Implementations: src/channels/telegram/approvals.py,
    src/channels/console.py."""

    async def ask(self, request: ApprovalRequest) -> Decision:
        """Put the question to the user and return their answer; TIMED_OUT once
        `request.expires_at` has passed without one. A request that is already `shown`
        (a turn resumed after a restart) is only waited for, not asked again."""
        ...

    async def expired(self, request: ApprovalRequest) -> None:
        """A question no turn waits for any more ran out of time: show that it did."""
        ...
