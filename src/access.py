"""Who may use the bot: the allowlist, from config and at run time from the records.

The lists in config.yml (`telegram.allowed_user_ids`, `admin_user_ids`) are the floor: they
always apply and nothing at run time removes them. Admins may add users at run time (and
take them away again); those live in one "access" record, so they survive restarts on
either store. The record is read at start-up and kept in memory: `is_allowed` is answered
for every update without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from src.config import TelegramConfig
from src.store.records import Record, RecordStore

KIND, KEY = "access", "allowlist"


class Access:
    """The allowlist: admins are always allowed."""

    def __init__(
        self, allowed: Iterable[int], admins: Iterable[int], records: RecordStore | None = None
    ) -> None:
        self._admins = frozenset(admins)
        self._floor = frozenset(allowed) | self._admins
        self._records = records
        self._runtime: dict[int, dict[str, Any]] = {}

    @classmethod
    def from_config(cls, config: TelegramConfig, records: RecordStore | None = None) -> Access:
        return cls(config.allowed_user_ids, config.admin_user_ids, records)

    async def load(self) -> None:
        """Read the users added at run time (ConversationError if the store fails)."""
        if self._records is not None:
            self._runtime = _users(await self._records.get(KIND, KEY))

    def is_allowed(self, user_id: int) -> bool:
        return user_id in self._floor or user_id in self._runtime

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._admins

    def added(self) -> dict[int, dict[str, Any]]:
        """The users added at run time, with who added them and when."""
        return dict(self._runtime)

    async def allow(self, user_id: int, by: int | None, at: float) -> None:
        """Add a user at run time (stored before it takes effect)."""

        def add(record: Record) -> Record:
            users = {str(k): v for k, v in _users(record).items()}
            users[str(user_id)] = {"by": by, "at": at}
            return record.changed(data={"users": users})

        await self._store(add)

    async def deny(self, user_id: int) -> bool:
        """Take away a user added at run time. False for a user config.yml allows (the floor
        stays; edit config.yml for those)."""

        def remove(record: Record) -> Record:
            users = {str(k): v for k, v in _users(record).items() if k != user_id}
            return record.changed(data={"users": users})

        await self._store(remove)
        return user_id not in self._floor

    async def _store(self, change: Any) -> None:
        if self._records is None:
            raise RuntimeError("this allowlist has no store to keep changes in")
        self._runtime = _users(await self._records.update(KIND, KEY, change))


def _users(record: Record | None) -> dict[int, dict[str, Any]]:
    raw = record.data.get("users", {}) if record is not None else {}
    return {int(k): dict(v) for k, v in raw.items() if str(k).lstrip("-").isdigit()}
