"""The conversation store interface. Backends live beside it; `create_store` picks one."""

from __future__ import annotations

import asyncio
import inspect
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from src.conversation.message import Message


@dataclass(frozen=True)
class ConversationInfo:
    conversation_id: str
    updated_at: float


class ConversationStore(ABC):
    """Async persistence for conversations. Every method raises ConversationError on failure.

    Appending must cost the same whatever the length of the history, and `load_recent` must
    read only the tail it returns.
    """

    name: str = "store"

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the backend (create directories or tables). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ConversationError unless the backend answers."""

    @abstractmethod
    async def load_conversation(self, conversation_id: str) -> list[Message]:
        """Every message, oldest first ([] for an unknown conversation)."""

    @abstractmethod
    async def load_recent(self, conversation_id: str, limit: int) -> list[Message]:
        """The last `limit` messages, oldest first."""

    @abstractmethod
    async def save_conversation(self, conversation_id: str, messages: list[Message]) -> None:
        """Replace the whole history atomically."""

    @abstractmethod
    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        """Add messages at the end; durable when this returns."""

    @abstractmethod
    async def delete_conversation(self, conversation_id: str) -> None:
        """Forget the conversation: history, metadata and pending mark."""

    @abstractmethod
    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        """Conversations, most recently updated first."""

    @abstractmethod
    async def load_metadata(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's small metadata record ({} if none)."""

    @abstractmethod
    async def save_metadata(
        self, conversation_id: str, data: dict[str, Any], pending: bool | None = None
    ) -> None:
        """Replace the metadata record atomically; durable when this returns. With `pending`,
        also mark (True: before the record is written) or unmark (False: after) the
        conversation in the pending index: a crash in between leaves a mark with nothing
        pending (harmless), never something pending without its mark."""

    async def update_metadata(
        self,
        conversation_id: str,
        change: Callable[[dict[str, Any]], Awaitable[None] | None],
        pending: Callable[[dict[str, Any]], bool | None] | None = None,
    ) -> dict[str, Any]:
        """Read, change in place and save the metadata record, one writer at a time.

        `change` may be a coroutine function; it runs while the record is locked. `pending`,
        given the changed record, says how the pending index changes with it (as for
        `save_metadata`).
        """
        async with self._metadata_lock(conversation_id):
            data = await self.load_metadata(conversation_id)
            outcome = change(data)
            if inspect.isawaitable(outcome):
                await outcome
            await self.save_metadata(
                conversation_id, data, None if pending is None else pending(data)
            )
            return data

    async def append_and_update(
        self,
        conversation_id: str,
        messages: list[Message],
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """`append_messages`, then `update_metadata(change)`: messages and the metadata change
        that goes with them (what producing them cost). A backend that can write both in one
        step overrides this; the messages are stored first either way."""
        await self.append_messages(conversation_id, messages)
        return await self.update_metadata(conversation_id, change)

    def _metadata_lock(self, conversation_id: str) -> asyncio.Lock:
        """The lock of one conversation's metadata read-change-write in this process."""
        locks = self.__dict__.setdefault("_metadata_locks", weakref.WeakValueDictionary())
        lock: asyncio.Lock | None = locks.get(conversation_id)
        if lock is None:
            lock = locks[conversation_id] = asyncio.Lock()
        return lock

    @abstractmethod
    async def set_pending(self, conversation_id: str, pending: bool) -> None:
        """Mark or unmark the conversation in the small index of unfinished turns."""

    @abstractmethod
    async def list_pending(self) -> list[str]:
        """Conversation ids marked pending (read from the index, not a scan of histories)."""
