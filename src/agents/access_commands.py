"""The admins' commands for who may use the bot: /allow, /deny, /users, /invite.

Channel-independent, answered by the Coordinator like /agent. Only admins may use them; the
console (`user_id` None: the operator at the terminal) counts as an admin. What they change
is `Access` (src/access.py), the one allowlist every channel checks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from src.access import Access
from src.agents.commands import parse
from src.errors import UserInputError

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = {
    "allow": "Let a user use the bot: /allow <user id> (admins)",
    "deny": "Take a user's access away: /deny <user id> (admins)",
    "users": "Who may use the bot (admins)",
    "invite": "A one-time code for a new user (admins)",
}
ADMINS_ONLY = "Only an admin can do that."
_USER_ID = re.compile(r"-?[0-9]{1,16}")

# The spend hook: a user id -> a few words on what they used ("1,234 tokens, $0.01 this month").
Spend = Callable[[int], Awaitable[str]]


class AccessCommands:
    def __init__(self, access: Access, spend: Spend | None = None) -> None:
        self.access = access
        self.spend = spend

    async def handle(self, text: str, user_id: int | None) -> str:
        """Answer one of ADMIN_COMMANDS for `user_id`. UserInputError for a non-admin or
        wrong arguments (nothing changed); ConversationError if the store fails."""
        name, args = parse(text)
        if user_id is not None and not self.access.is_admin(user_id):
            logger.info("user %s is not an admin: /%s refused", user_id, name)
            raise UserInputError(ADMINS_ONLY)
        if name == "allow":
            return await self.allow(_user_id(name, args), user_id)
        if name == "deny":
            return await self.deny(_user_id(name, args))
        if args:
            raise UserInputError(f"/{name} takes no arguments.")
        if name == "users":
            return await self.users()
        if name == "invite":
            return await self.invite(user_id)
        raise UserInputError("I don't know that command.")

    async def allow(self, target: int, by: int | None) -> str:
        if self.access.in_config(target):
            return f"User {target} is already allowed (config.yml)."
        if target in self.access.added():
            return f"User {target} is already allowed."
        await self.access.allow(target, by=by, at=self.access.clock.time())
        return f"User {target} can use the bot now. /deny {target} takes that back."

    async def deny(self, target: int) -> str:
        added = target in self.access.added()
        if added:
            await self.access.deny(target)
        if self.access.in_config(target):
            return (
                f"User {target} is in config.yml and stays allowed until removed from config.yml."
            )
        if not added:
            return f"User {target} wasn't allowed; nothing changed."
        return f"User {target} can no longer use the bot."

    async def users(self) -> str:
        lines = ["Admins (config.yml):" if self.access.admins() else "Admins (config.yml): none"]
        for user in self.access.admins():
            lines.append(await self._line(user, ""))
        config_users = self.access.config_users()
        lines.append("Users (config.yml):" if config_users else "Users (config.yml): none")
        for user in config_users:
            lines.append(await self._line(user, ""))
        added = self.access.added()
        lines.append("Added in the chat:" if added else "Added in the chat: none")
        for user, entry in sorted(added.items()):
            lines.append(await self._line(user, _added(entry)))
        return "\n".join(lines)

    async def invite(self, by: int | None) -> str:
        invitation = await self.access.invite(by)
        return (
            f"Here's an invitation. It works once, until {_when(invitation.expires_at)}. "
            "The new user sends me this:\n"
            f"/start {invitation.code}"
        )

    async def _line(self, user: int, about: str) -> str:
        line = f"• {user}{about}"
        if self.spend is not None:
            line += f" - {await self.spend(user)}"
        return line


def _user_id(name: str, args: str) -> int:
    if not _USER_ID.fullmatch(args) or int(args) == 0:
        raise UserInputError(f"Usage: /{name} <user id>, a number like 123456789.")
    return int(args)


def _added(entry: dict[str, Any]) -> str:
    name = f" ({entry['name']})" if entry.get("name") else ""
    by = entry.get("by")
    who = f"added by {by}" if by is not None else "added at the console"
    at = entry.get("at")
    when = f" on {_when(at)}" if isinstance(at, int | float) else ""
    return f"{name}, {who}{when}"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
