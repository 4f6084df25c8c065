"""The admins' /audit: the newest tool runs from the audit trail (src/approval/audit.py).

`/audit` lists the newest entries of everyone the allowlist knows (admins, config users, users
added in the chat, and the console's operator), read through the records' user index, never a
scan; `/audit <user id>` lists one user's, also a user no longer allowed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from src.access import Access
from src.agents.access_commands import ADMINS_ONLY
from src.agents.commands import parse
from src.approval.audit import CONSOLE_USER, AuditEntry, AuditTrail
from src.errors import UserInputError

AUDIT_COMMANDS = {"audit": "The latest tool runs: /audit [user id] (admins)"}
_USER_ID = re.compile(r"-?[0-9]{1,16}")
_OUTCOMES = {"timed_out": "timed out", "approved_then_failed": "approved, then failed"}


class AuditCommands:
    def __init__(self, trail: AuditTrail, access: Access, show: int = 20) -> None:
        self.trail = trail
        self.access = access
        self.show = show

    async def handle(self, text: str, user_id: int | None) -> str:
        """Answer /audit for `user_id` (None: the console's operator, an admin).
        UserInputError for a non-admin or a wrong argument; ConversationError if the store
        fails."""
        _, args = parse(text)
        if user_id is not None and not self.access.is_admin(user_id):
            raise UserInputError(ADMINS_ONLY)
        if args:
            if not _USER_ID.fullmatch(args):
                raise UserInputError("Usage: /audit, or /audit <user id> for one user's runs.")
            users, whose = [int(args)], f"user {int(args)}"
        else:
            users = [
                *self.access.admins(),
                *self.access.config_users(),
                *self.access.added(),
                CONSOLE_USER,
            ]
            whose = "everyone"
        entries = await self.trail.recent(users, self.show)
        if not entries:
            return f"No tool runs recorded for {whose}."
        head = f"The newest {len(entries)} tool run(s) of {whose}, newest first:"
        return "\n".join([head, *(line(entry) for entry in entries)])


def line(entry: AuditEntry) -> str:
    when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    outcome = _OUTCOMES.get(entry.outcome, entry.outcome)
    took = f" in {entry.duration_s:.2f} s" if entry.duration_s is not None else ""
    who = "the console" if entry.user_id == CONSOLE_USER else f"user {entry.user_id}"
    text = f"• {when} UTC {entry.tool}: {outcome}{took}; {who} in {entry.conversation_id}"
    if entry.approval == "always":
        text += f"; always allowed here (by {_by(entry.decided_by)})"
    elif entry.approval == "asked":
        verdict = "approved" if entry.outcome in ("ok", "error", "approved_then_failed") else ""
        if verdict or entry.outcome == "denied":
            text += f"; {verdict or 'denied'} by {_by(entry.decided_by)}"
    text += f"; args sha256 {entry.args_sha256[:12]}"
    if entry.arguments is not None:
        text += f"\n  {entry.arguments}"
    return text


def _by(user: int | None) -> str:
    return "the console" if user is None else str(user)
