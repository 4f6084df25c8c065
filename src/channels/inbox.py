"""The inbox: input a channel has accepted but not yet answered, kept in the store.

A channel confirms an update to its source only after `accept` returns, and calls `done`
after the answer is delivered. After a crash, `pending` lists what is still owed, through
the store's small pending index. Duplicates (a re-delivered update id) are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from src.conversation.store.base_store import ConversationStore

logger = logging.getLogger(__name__)

_PENDING = "pending"
_LAST = "last_update_id"


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    kind: str  # "text" | "reset" | ... (the channel decides)
    text: str = ""
    user_id: int | None = None
    chat_id: int | None = None
    thread_id: int | None = None
    message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboxItem:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class Inbox:
    def __init__(self, store: ConversationStore) -> None:
        self.store = store
        self._marked: set[str] = set()  # conversations this process knows are in the index

    async def _mark(self, conversation_id: str, pending: bool) -> None:
        if pending == (conversation_id in self._marked):
            return
        await self.store.set_pending(conversation_id, pending)
        if pending:
            self._marked.add(conversation_id)
        else:
            self._marked.discard(conversation_id)

    async def accept(self, conversation_id: str, item: InboxItem) -> bool:
        """Store the item durably. False if this update id was accepted before."""
        accepted = False

        def add(meta: dict[str, Any]) -> None:
            nonlocal accepted
            if item.update_id <= int(meta.get(_LAST, -1)):
                return
            meta.setdefault(_PENDING, []).append(item.to_dict())
            meta[_LAST] = item.update_id
            accepted = True

        await self._mark(conversation_id, True)
        meta = await self.store.update_metadata(conversation_id, add)
        if not accepted:
            logger.info(
                "conversation %s: update %s was already accepted; ignored",
                conversation_id,
                item.update_id,
            )
            if not meta.get(_PENDING):
                await self._mark(conversation_id, False)
        return accepted

    async def done(self, conversation_id: str, update_id: int) -> None:
        """Forget an answered item; unmark the conversation when nothing is left."""

        def remove(meta: dict[str, Any]) -> None:
            items = meta.get(_PENDING, [])
            meta[_PENDING] = [i for i in items if i.get("update_id") != update_id]

        meta = await self.store.update_metadata(conversation_id, remove)
        if not meta.get(_PENDING):
            await self._mark(conversation_id, False)

    async def forget_history(
        self, conversation_id: str, update_id: int, forget: Callable[[], Awaitable[None]]
    ) -> None:
        """Run `forget` (which deletes the conversation) and keep the inbox's own state:
        the items still owed after `update_id` and the duplicate guard."""

        async def change(meta: dict[str, Any]) -> None:
            keep = {
                _LAST: meta.get(_LAST, update_id),
                _PENDING: [i for i in meta.get(_PENDING, []) if i.get("update_id") != update_id],
            }
            await forget()
            meta.clear()
            meta.update(keep)

        meta = await self.store.update_metadata(conversation_id, change)
        self._marked.discard(conversation_id)  # deleting the conversation removed its mark
        await self._mark(conversation_id, bool(meta.get(_PENDING)))

    async def pending(self) -> list[tuple[str, list[InboxItem]]]:
        """Every conversation with unanswered items, each with its items in arrival order;
        the conversation owed the oldest update comes first."""
        result = []
        for conversation_id in await self.store.list_pending():
            self._marked.add(conversation_id)
            meta = await self.store.load_metadata(conversation_id)
            items = [InboxItem.from_dict(i) for i in meta.get(_PENDING, [])]
            if items:
                result.append((conversation_id, sorted(items, key=lambda i: i.update_id)))
            else:
                await self._mark(conversation_id, False)
        result.sort(key=lambda entry: entry[1][0].update_id)
        return result
