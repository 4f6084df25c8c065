"""Who may use the bot: the allowlist, from config and at run time from the records.

The lists in config.yml (`telegram.allowed_user_ids`, `admin_user_ids`) are the floor: they
always apply and nothing at run time removes them. Admins may add users at run time (and
take them away again), with /allow or by an invitation (src/invites.py); those live in one
"access" record, so they survive restarts on either store. The record is read at start-up
and kept in memory: `is_allowed` is answered for every update without I/O.

One `Access` serves every channel (built by src/runtime.py), so a change made by a command
is seen at once by whoever checks `is_allowed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config
from src.invites import Invitation, Invites
from src.store.records import Record, RecordStore

logger = logging.getLogger(__name__)

KIND, KEY = "access", "allowlist"
DEFAULT_INVITE_TTL_S = 86400.0


class Access:
    """The allowlist: admins are always allowed."""

    def __init__(
        self,
        allowed: Iterable[int],
        admins: Iterable[int],
        records: RecordStore | None = None,
        *,
        invite_ttl_s: float = DEFAULT_INVITE_TTL_S,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._admins = frozenset(admins)
        self._users = frozenset(allowed) - self._admins
        self._floor = self._users | self._admins
        self._records = records
        self.clock = clock
        self._invites = Invites(records, invite_ttl_s, clock) if records is not None else None
        self._runtime: dict[int, dict[str, Any]] = {}

    @classmethod
    def from_config(
        cls, config: Config, records: RecordStore | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> Access:
        return cls(
            config.telegram.allowed_user_ids,
            config.telegram.admin_user_ids,
            records,
            invite_ttl_s=config.access.invite_ttl_s,
            clock=clock,
        )

    async def load(self) -> None:
        """Read the users added at run time (ConversationError if the store fails)."""
        if self._records is not None:
            self._runtime = _users(await self._records.get(KIND, KEY))

    def is_allowed(self, user_id: int) -> bool:
        return user_id in self._floor or user_id in self._runtime

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._admins

    def in_config(self, user_id: int) -> bool:
        """Allowed by config.yml (an admin or a user there): nothing at run time removes it."""
        return user_id in self._floor

    def admins(self) -> list[int]:
        return sorted(self._admins)

    def config_users(self) -> list[int]:
        """The users config.yml allows, admins aside."""
        return sorted(self._users)

    def added(self) -> dict[int, dict[str, Any]]:
        """The users added at run time, with who added them and when."""
        return dict(self._runtime)

    async def allow(self, user_id: int, by: int | None, at: float, name: str | None = None) -> None:
        """Add a user at run time (stored before it takes effect)."""
        entry: dict[str, Any] = {"by": by, "at": at}
        if name:
            entry["name"] = name

        def add(record: Record) -> Record:
            users = {str(k): v for k, v in _users(record).items()}
            users[str(user_id)] = entry
            return record.changed(data={"users": users})

        await self._store(add)
        logger.info("user %s allowed (by %s)", user_id, by)

    async def deny(self, user_id: int) -> bool:
        """Take away a user added at run time. False for a user config.yml allows (the floor
        stays; edit config.yml for those)."""

        def remove(record: Record) -> Record:
            users = {str(k): v for k, v in _users(record).items() if k != user_id}
            return record.changed(data={"users": users})

        await self._store(remove)
        logger.info("user %s no longer added at run time", user_id)
        return user_id not in self._floor

    async def invite(self, by: int | None) -> Invitation:
        """A one-time code for a new user (src/invites.py)."""
        return await self._invitations().create(by)

    async def redeem(self, code: str, user_id: int, name: str | None = None) -> Invitation:
        """Spend an invitation and add `user_id` (added by the inviter). UserInputError for a
        code that is unknown, spent or expired; ConversationError if the store fails."""
        invitation = await self._invitations().take(code, user_id)
        await self.allow(user_id, by=invitation.by, at=self.clock.time(), name=name)
        logger.info("user %s joined with an invitation from %s", user_id, invitation.by)
        return invitation

    def _invitations(self) -> Invites:
        if self._invites is None:
            raise RuntimeError("this allowlist has no store to keep invitations in")
        return self._invites

    async def _store(self, change: Callable[[Record], Record]) -> None:
        if self._records is None:
            raise RuntimeError("this allowlist has no store to keep changes in")
        self._runtime = _users(await self._records.update(KIND, KEY, change))


def _users(record: Record | None) -> dict[int, dict[str, Any]]:
    raw = record.data.get("users", {}) if record is not None else {}
    return {int(k): dict(v) for k, v in raw.items() if str(k).lstrip("-").isdigit()}
