"""The turn a tool runs in: which conversation and which user asked.

Built-in tools that keep state per user or per chat (memory, reminders) need to know whose
turn it is; the model must not be able to say. The Coordinator sets the context for the whole
turn (`turn_context`), and asyncio copies it into every task the turn starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from src.errors import ToolError
from src.tools.outbox import Outbox


@dataclass(frozen=True)
class TurnContext:
    conversation_id: str
    user_id: int | None  # None: the console's operator
    chat_type: str = "private"  # private | group | supergroup | console | scheduled
    outbox: Outbox | None = None  # where the turn's files for the user go (the channel's)


_CURRENT: ContextVar[TurnContext | None] = ContextVar("turn", default=None)


@contextmanager
def turn_context(context: TurnContext) -> Iterator[TurnContext]:
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def current_turn() -> TurnContext:
    """The running turn; ToolError outside of one (the tool was called without a chat)."""
    context = _CURRENT.get()
    if context is None:
        raise ToolError("this tool can only be used in a conversation")
    return context


def turn_or_none() -> TurnContext | None:
    """The running turn, or None outside of one."""
    return _CURRENT.get()
