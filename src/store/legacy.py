"""The storage layout before the split, as both backends' migrations read it.

Then, one metadata record per conversation held its settings and usage (pinned agent, token
ratio, usage totals) together with the inbox's state (the updates owed, the last update id
accepted). Now the first part is the "conversation" record and the second the "inbox" one.
"""

from __future__ import annotations

from typing import Any

from src.store.inbox import KIND as INBOX
from src.store.records import Record

LAYOUT = 2  # the layout version after the split
CONVERSATION = "conversation"
_INBOX_KEYS = ("pending", "last_update_id")


def split(conversation_id: str, data: dict[str, Any], now: float) -> list[Record]:
    """An old metadata record as the new records: settings and usage, and the inbox."""
    settings = {k: v for k, v in data.items() if k not in _INBOX_KEYS}
    result = [Record(CONVERSATION, conversation_id, settings)] if settings else []
    if any(k in data for k in _INBOX_KEYS):
        owed = [i for i in data.get("pending") or [] if isinstance(i, dict)]
        inbox = {"pending": owed, "last_update_id": int(data.get("last_update_id", -1))}
        result.append(Record(INBOX, conversation_id, inbox, due_at=now if owed else None))
    return result
