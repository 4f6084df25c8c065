"""The last messages of the conversations used lately, kept by the file store so that a
turn's window costs no file read and no parsing (one bot owns a store directory, so what it
wrote is what the file holds). Bounded by conversations and by the bytes the messages take
in their files; the least recently used tails go first."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from src.conversation.message import Message


@dataclass
class _Tail:
    cap: int  # the tail holds the last `cap` messages of the history (all, if it has fewer)
    messages: list[Message] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    size: int = 0


class TailCache:
    def __init__(self, max_conversations: int = 64, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_conversations = max_conversations
        self.max_bytes = max_bytes
        self._tails: OrderedDict[str, _Tail] = OrderedDict()
        self._size = 0

    def get(self, conversation_id: str, limit: int) -> list[Message] | None:
        """The last `limit` messages (a new list), or None if they are not all here."""
        tail = self._tails.get(conversation_id)
        if tail is None or limit > tail.cap:
            return None
        self._tails.move_to_end(conversation_id)
        return tail.messages[-limit:]

    def fill(
        self, conversation_id: str, cap: int, messages: list[Message], sizes: list[int]
    ) -> None:
        """Keep what a read of the last `cap` messages returned."""
        self.drop(conversation_id)
        tail = _Tail(cap)
        self._tails[conversation_id] = tail
        self._add(tail, messages, sizes)

    def extend(self, conversation_id: str, messages: list[Message], sizes: list[int]) -> None:
        """Messages just appended to the history (ignored if the tail is not kept)."""
        tail = self._tails.get(conversation_id)
        if tail is not None:
            self._tails.move_to_end(conversation_id)
            self._add(tail, messages, sizes)

    def drop(self, conversation_id: str) -> None:
        tail = self._tails.pop(conversation_id, None)
        if tail is not None:
            self._size -= tail.size

    def _add(self, tail: _Tail, messages: list[Message], sizes: list[int]) -> None:
        tail.messages.extend(messages)
        tail.sizes.extend(sizes)
        added = sum(sizes)
        extra = len(tail.messages) - tail.cap
        if extra > 0:
            added -= sum(tail.sizes[:extra])
            del tail.messages[:extra], tail.sizes[:extra]
        tail.size += added
        self._size += added
        while self._tails and (
            len(self._tails) > self.max_conversations or self._size > self.max_bytes
        ):
            _, oldest = self._tails.popitem(last=False)
            self._size -= oldest.size
