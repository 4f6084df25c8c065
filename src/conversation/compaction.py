"""Compaction: the oldest part of a long conversation, summarised by the model.

The summary is stored in the history as a compaction record (see window.py); the messages
it covers stay in the store. `Summariser` only talks to the model; ConversationManager
decides when and what to summarise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from src.config import CompactionConfig
from src.conversation.images import image_refs, stand_in
from src.conversation.message import Message
from src.conversation.visible import is_blank
from src.conversation.window import COMPACTION
from src.errors import LLMError
from src.llm.client import ChatModel, Usage

logger = logging.getLogger(__name__)

SUMMARY_HEADER = "Summary of the earlier part of this conversation (older messages are omitted):"
INSTRUCTIONS = (
    "You keep the running summary of a conversation between a user and their AI assistant. "
    "Merge the previous summary (if any) and the new messages into one updated summary that "
    "lets the assistant carry on without the omitted messages: facts about the user, names, "
    "numbers, dates, decisions, preferences, promises and open tasks, and tool results that "
    "still matter. Write in the conversation's language, as short plain sentences or bullets, "
    "at most about {words} words. Reply with the summary only."
)
_MESSAGE_CHARS = 2000  # longer messages are clipped in the summariser's transcript
_INSTRUCTION_TOKENS = 150


@dataclass(frozen=True)
class Summary:
    text: str
    model: str
    usage: Usage | None


class Summariser:
    """Summarises messages with the configured (usually cheaper) model."""

    def __init__(self, llm: ChatModel, config: CompactionConfig) -> None:
        self.llm = llm
        self.config = config
        self._resting_until = 0.0  # after a failure, no summaries until then (any chat)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._resting_until

    def target_tokens(self, budget: int) -> int:
        """How long a summary may be for a request budget of `budget` tokens."""
        return max(50, min(self.config.summary_tokens, budget // 4))

    async def summarise(
        self, previous: str | None, messages: list[Message], budget: int
    ) -> Summary:
        """One summary of `previous` plus `messages`. Raises LLMError when the model fails
        or answers nothing, TimeoutError after `timeout_s`; either way summaries rest for
        `retry_after_s`. The request itself stays within `budget` tokens."""
        try:
            async with asyncio.timeout(self.config.timeout_s):
                return await self._summarise(previous, messages, budget)
        except Exception:
            self._resting_until = time.monotonic() + self.config.retry_after_s
            raise

    async def _summarise(
        self, previous: str | None, messages: list[Message], budget: int
    ) -> Summary:
        target = self.target_tokens(budget)
        room = max(200, budget - _INSTRUCTION_TOKENS - target) * 4  # characters
        transcript = render_transcript(messages, room - len(previous or ""))
        parts = [f"Previous summary:\n{previous}"] if previous else []
        parts.append(f"New messages:\n{transcript}")
        request = [
            {"role": "system", "content": INSTRUCTIONS.format(words=target * 3 // 4)},
            {"role": "user", "content": "\n\n".join(parts)},
        ]
        response = await self.llm.chat(request, None, model=self.config.model)
        text = response.text.strip()
        if is_blank(text):
            raise LLMError("the summariser answered nothing")
        limit = target * 6  # characters: half again the target, at four characters a token
        if len(text) > limit:
            text = text[:limit].rstrip() + " …"
        return Summary(text=text, model=response.model, usage=response.usage)


def compaction_record(summary: Summary, kept: int, summarised: int) -> Message:
    """The stored form: `kept` messages before this record are not covered by it."""
    details: dict[str, Any] = {"kept": kept, "summarised": summarised, "model": summary.model}
    if summary.usage is not None:
        details["usage"] = {
            "prompt_tokens": summary.usage.prompt_tokens,
            "completion_tokens": summary.usage.completion_tokens,
        }
    return Message(role="system", content=summary.text, metadata={COMPACTION: details})


def render_transcript(messages: list[Message], max_chars: int) -> str:
    """Messages as plain lines for the summariser; the newest part is kept when it is long."""
    lines = [_line(m) for m in messages]
    total, start = 0, len(lines)
    while start > 0 and total + len(lines[start - 1]) + 1 <= max(max_chars, 0):
        start -= 1
        total += len(lines[start]) + 1
    if start == len(lines) and lines:  # not even the newest line fits whole: clip it
        return lines[-1][: max(max_chars, 0)]
    dropped = f"[{start} older messages omitted]\n" if start else ""
    return dropped + "\n".join(lines[start:])


def _line(message: Message) -> str:
    text = _clip(stand_in(message) if image_refs(message) else message.content or "")
    if message.role == "tool":
        return f"[tool result {message.metadata.get('tool', '')}] {text}".rstrip()
    if message.role == "assistant" and message.tool_calls:
        calls = "; ".join(_call(call) for call in message.tool_calls)
        return " ".join(part for part in ("[assistant]", text, f"[calls: {calls}]") if part)
    return f"[{message.role}] {text}"


def _call(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return f"{function.get('name', '?')}({_clip(arguments, 300)})"


def _clip(text: str, limit: int = _MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + " …"
