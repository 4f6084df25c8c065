"""The inbox: input a channel has accepted but not yet answered, kept in the store.

A channel confirms an update to its source only after `accept` returns, and calls `done`
after the answer is delivered. After a crash, `pending` lists what is still owed, through
the store's small pending index. Duplicates (a re-delivered update id) are refused.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from src.store.conversations import ConversationStore

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
        # Not dataclasses.asdict, which walks every field recursively (4x slower); only
        # `extra` holds anything mutable.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["extra"] = copy.deepcopy(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboxItem:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class Inbox:
    def __init__(self, store: ConversationStore) -> None:
        self.store = store
        self._marked: set[str] = set()  # conversations this process knows are in the index

    def _follow(self, conversation_id: str) -> Callable[[dict[str, Any]], bool | None]:
        """How the pending index changes with a record: marked while items are pending. The
        store writes the change together with the record (one step for the file store)."""

        def decide(meta: dict[str, Any]) -> bool | None:
            want = bool(meta.get(_PENDING))
            return want if want != (conversation_id in self._marked) else None

        return decide

    def _note(self, conversation_id: str, meta: dict[str, Any]) -> None:
        if meta.get(_PENDING):
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

        meta = await self.store.update_metadata(conversation_id, add, self._follow(conversation_id))
        self._note(conversation_id, meta)
        if not accepted:
            logger.info(
                "conversation %s: update %s was already accepted; ignored",
                conversation_id,
                item.update_id,
            )
        return accepted

    async def done(self, conversation_id: str, update_id: int) -> None:
        """Forget an answered item; unmark the conversation when nothing is left."""

        def remove(meta: dict[str, Any]) -> None:
            items = meta.get(_PENDING, [])
            meta[_PENDING] = [i for i in items if i.get("update_id") != update_id]

        meta = await self.store.update_metadata(
            conversation_id, remove, self._follow(conversation_id)
        )
        self._note(conversation_id, meta)

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
            self._marked.discard(conversation_id)  # deleting the conversation removed its mark
            meta.clear()
            meta.update(keep)

        meta = await self.store.update_metadata(
            conversation_id, change, self._follow(conversation_id)
        )
        self._note(conversation_id, meta)

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
                await self.store.set_pending(conversation_id, False)
                self._marked.discard(conversation_id)
        result.sort(key=lambda entry: entry[1][0].update_id)
        return result
