""" "Always for this tool in this chat": standing approvals, kept in the conversation's own
record (src/conversation/settings.py) as tool name -> who allowed it. `/reset` forgets them
with the rest of the chat's settings."""

from __future__ import annotations

from typing import Any

from src.approval.types import APPROVED, Decision
from src.conversation import settings
from src.store.records import RecordStore

KEY = "always_approve"


async def standing(records: RecordStore, conversation_id: str, tool: str) -> Decision | None:
    """The standing approval of `tool` in this conversation, or None (ask)."""
    granted = (await settings.load(records, conversation_id)).get(KEY)
    if not isinstance(granted, dict) or tool not in granted:
        return None
    by = granted[tool]
    return Decision(APPROVED, by if isinstance(by, int) else None, always=True)


async def grant(records: RecordStore, conversation_id: str, tool: str, by: int | None) -> None:
    def add(data: dict[str, Any]) -> None:
        granted = data.get(KEY)
        data[KEY] = {**(granted if isinstance(granted, dict) else {}), tool: by}

    await settings.change(records, conversation_id, add)
