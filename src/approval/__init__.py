"""Asking before acting: tools that wait for the user's approval, and the audit trail.

- types.py:    the question (ApprovalRequest), the answer (Decision), who asks (Approver)
- describe.py: a call's arguments as the user sees them (secrets masked, long values cut)
- pending.py:  open questions as records (kind "approval"), decided once, found after a restart
- audit.py:    every tool run as a record (kind "audit"), by user, with an expiry
- runner.py:   ToolRunner, what the agent loop runs each tool call through

The channel puts the question (src/channels/telegram/approvals.py with buttons, the console
with y/N); nothing here imports a channel.
"""

from src.approval.runner import ToolRunner
from src.approval.types import APPROVED, DENIED, TIMED_OUT, ApprovalRequest, Approver, Decision

__all__ = [
    "APPROVED",
    "DENIED",
    "TIMED_OUT",
    "ApprovalRequest",
    "Approver",
    "Decision",
    "ToolRunner",
]
