"""The conversation store interface: message histories, and nothing else.

Small records (a conversation's settings and usage, the inbox, the allowlist) live in the
records facility (records.py); the inbox of pending turns is its own interface (inbox.py).
Backends live beside it (file/, dynamodb/); `src.store.create_storage` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from src.conversation.message import Message


@dataclass(frozen=True)
class ConversationInfo:
    conversation_id: str
    updated_at: float


class ConversationStore(ABC):
    """Async persistence for histories. Every method raises ConversationError on failure.

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
    async def append_messages(self, conversation_id: str, messages: list[Message]) -> None:
        """Add messages at the end; durable when this returns."""

    @abstractmethod
    async def load_recent(self, conversation_id: str, limit: int | None) -> list[Message]:
        """The last `limit` messages (None: all of them), oldest first; [] if unknown."""

    @abstractmethod
    async def delete_conversation(self, conversation_id: str) -> None:
        """Forget the history."""

    @abstractmethod
    async def list_conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationInfo]:
        """Conversations, most recently updated first."""
