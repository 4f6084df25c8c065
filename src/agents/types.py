"""What a channel hands the Coordinator, and what it gets back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from src.conversation.message import Message
from src.conversation.usage import Cost
from src.conversation.window import Window
from src.llm.client import Usage
from src.tools.outbox import Outbox
from src.tools.registry import ToolRegistry


@dataclass(frozen=True)
class Request:
    conversation_id: str
    text: str
    user_id: int | None = None
    # The channel's id for the incoming message (Telegram update_id). Processing a request
    # whose id is already in the history resumes that turn instead of adding it again.
    update_id: int | None = None
    source: str = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    # Files the turn's tools make for the user go here; the channel sends them after the
    # answer (src/tools/outbox.py). None: the channel cannot send files.
    outbox: Outbox | None = None


@dataclass(frozen=True)
class Response:
    text: str
    usage: Usage = field(default_factory=Usage)
    agent: str = ""
    model: str = ""
    tool_calls: int = 0
    replayed: bool = False  # the answer was already stored; it is delivered again, not recomputed
    # The endpoint refused the request built from the history, and this answer came from the
    # turn alone; later requests start here too (Agent.run). Tell the user once.
    history_set_aside: bool = False
    # Said after the answer, apart from it: a spend limit's warning (src/limits/policy.py).
    notices: tuple[str, ...] = ()


class ReplySink(Protocol):
    """Where a turn's progress goes while it runs; the channel renders it."""

    async def on_delta(self, text: str) -> None: ...

    async def on_tool_call(self, name: str) -> None: ...


class NullSink:
    async def on_delta(self, text: str) -> None:
        return None

    async def on_tool_call(self, name: str) -> None:
        return None


class Conversation(Protocol):
    """What the agent loop needs of a conversation: ConversationManager (a chat's stored
    history) or a delegated sub-task's scratch conversation."""

    async def request_window(
        self, system_prompt: str | None = None, tools: list[dict[str, Any]] | None = None
    ) -> Window: ...

    async def add(self, *messages: Message, cost: Cost | None = None) -> None: ...

    async def record_usage(self, cost: Cost) -> None: ...


@dataclass(frozen=True)
class Toolbox:
    """The tools one agent run may use: a registry and the globs that allow its names."""

    registry: ToolRegistry
    patterns: Sequence[str]
