"""The slice of history sent to the model: always valid for the Chat Completions API.

A compaction record (a `system` message whose metadata has "compaction") stands for every
message before the point it names: the window then holds the record's summary and only the
messages after that point. The records stay in the stored history like any other message,
and are never sent as they are. Two more kinds of record share that shape (and so every
place that already skips compaction records skips them too):

- set aside (`{"compaction": {"kind": "set_aside"}}`, no summary): the endpoint refused a
  request built from the history (a 400), and the same turn then worked with only its own
  messages (see Agent.run). Windows start at the turn before the record, as if the history
  before it were not there; the full history stays stored.
- refused turn (`{"compaction": {"kind": "refused"}}`): the provider's content policy
  refused the turn before the record. Windows leave that turn out, so the next message is
  not refused for it again.
- no images (`{"compaction": {"kind": "no_images"}}`): the endpoint said the model takes no
  image input. Images stored before the record are sent as their text stand-ins from then
  on (src/conversation/images.py), so the next message is not refused for them again.

A stored user message with no visible text (src/conversation/visible.py; today's code never
stores one, older histories may hold them) is left out of every window too, and so is an
assistant answer with no visible text and no tool calls (a model that answered nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from src.conversation.message import Message
from src.conversation.visible import is_blank

_PER_MESSAGE = 4
COMPACTION = "compaction"
SET_ASIDE = "set_aside"
REFUSED = "refused"
NO_IMAGES = "no_images"


@dataclass(frozen=True)
class Window:
    """One model request's messages and their local token estimate (tools included)."""

    messages: list[dict[str, Any]]
    estimated_tokens: int


def estimate_tokens(message: Message) -> int:
    """A local token estimate (about four characters a token), no network needed."""
    chars = len(message.content or "")
    for call in message.tool_calls or []:
        chars += len(json.dumps(call.get("function", {}), ensure_ascii=False))
    return _PER_MESSAGE + chars // 4 + sum(image.tokens for image in message.images)


def estimate_tools(tools: list[dict[str, Any]] | None) -> int:
    """The tool definitions count towards the prompt too."""
    return len(json.dumps(tools, ensure_ascii=False)) // 4 if tools else 0


def is_compaction(message: Message) -> bool:
    """Any window record (a summary, a set-aside point, a refused turn's end)."""
    return message.role == "system" and COMPACTION in message.metadata


def _kind(message: Message) -> str | None:
    details = message.metadata.get(COMPACTION)
    kind = details.get("kind") if isinstance(details, dict) else None
    return kind if isinstance(kind, str) else None


def set_aside_record() -> Message:
    """Stored after the turn that worked without the history before it (see the docstring)."""
    return Message(role="system", content="", metadata={COMPACTION: {"kind": SET_ASIDE}})


def refused_turn_record() -> Message:
    """Stored after a turn the provider's content policy refused (see the docstring)."""
    return Message(role="system", content="", metadata={COMPACTION: {"kind": REFUSED}})


def no_images_record() -> Message:
    """Stored after a turn the endpoint refused for its images (see the docstring)."""
    return Message(role="system", content="", metadata={COMPACTION: {"kind": NO_IMAGES}})


def _sendable(messages: list[Message]) -> list[Message]:
    """Without records, refused turns, and user messages (or assistant answers without
    tool calls) that have nothing visible."""
    result: list[Message] = []
    for message in messages:
        if is_compaction(message):
            if _kind(message) == REFUSED:
                last_user = next(
                    (i for i in range(len(result) - 1, -1, -1) if result[i].role == "user"), None
                )
                if last_user is not None:
                    del result[last_user:]
            continue
        if message.role == "user" and is_blank(message.content):
            continue
        if message.role == "assistant" and not message.tool_calls and is_blank(message.content):
            continue  # a model that answered nothing: some providers refuse it sent back
        result.append(message)
    return result


def drop_broken_tool_exchanges(messages: list[Message]) -> list[Message]:
    """Remove tool calls that lack a result and tool results that lack their call."""
    result: list[Message] = []
    i = 0
    while i < len(messages):
        message = messages[i]
        if message.role == "assistant" and message.tool_calls:
            wanted = set(message.tool_call_ids)
            j = i + 1
            answers: list[Message] = []
            while j < len(messages) and messages[j].role == "tool":
                answers.append(messages[j])
                j += 1
            answered = {m.tool_call_id for m in answers}
            if wanted <= answered:
                result.append(message)
                result.extend(m for m in answers if m.tool_call_id in wanted)
            elif message.content:
                result.append(Message(role="assistant", content=message.content))
            i = j
            continue
        if message.role != "tool":
            result.append(message)
        i += 1
    return result


def select_window(
    messages: list[Message], max_messages: int, max_tokens: int, reserved_tokens: int = 0
) -> list[Message]:
    """The newest messages that fit both budgets, starting at a user message.

    Whole turns (a user message and everything up to the next one) are dropped from the
    oldest end, so a tool call is never separated from its result. The newest turn is kept
    even when it alone is over the token budget.
    """
    start = max(0, len(messages) - max_messages)
    if not any(m.role == "user" for m in messages[start:]):
        # One turn longer than max_messages (many tool rounds): keep its question.
        start = next((i for i in range(start - 1, -1, -1) if messages[i].role == "user"), start)
    tail = drop_broken_tool_exchanges(messages[start:])
    starts = [i for i, m in enumerate(tail) if m.role == "user"]
    if not starts:
        return []
    tail = tail[starts[0] :]
    starts = [s - starts[0] for s in starts]
    costs = [estimate_tokens(m) for m in tail]
    total = sum(costs) + reserved_tokens
    first = 0
    for start in starts[1:]:
        if total <= max_tokens:
            break
        total -= sum(costs[first:start])
        first = start
    return tail[first:]


def latest_summary(messages: list[Message]) -> tuple[Message | None, int]:
    """The newest summary or set-aside record, and the index where the history it leaves
    out ends (a set-aside record: the user message of the turn before it)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not is_compaction(message) or _kind(message) in (REFUSED, NO_IMAGES):
            continue
        if _kind(message) == SET_ASIDE:
            turn = next((i for i in range(index - 1, -1, -1) if messages[i].role == "user"), index)
            return message, turn
        kept = int(message.metadata[COMPACTION].get("kept", 0))
        return message, max(0, index - kept)
    return None, 0


def messages_from(messages: list[Message], cut: int) -> list[Message]:
    """What follows a cut, ready to send: compaction records left out, tool pairs intact.

    A cut inside a turn (at an assistant message) keeps the turn's question in front, so
    the model still sees what it is working on.
    """
    body = _sendable(messages[cut:])
    if body and body[0].role != "user":
        question = next(
            (m for m in reversed(messages[:cut]) if m.role == "user" and not is_blank(m.content)),
            None,
        )
        if question is not None:
            body.insert(0, question)
        else:  # the rest of a turn whose question is not loaded: start at the next one
            first = next((i for i, m in enumerate(body) if m.role == "user"), len(body))
            body = body[first:]
    return drop_broken_tool_exchanges(body)


def choose_cut(messages: list[Message], start: int, max_tokens: int, max_messages: int) -> int:
    """The earliest cut at or after `start` whose remainder fits both budgets.

    Turn boundaries (user messages) come first. When the newest turn alone is too big, the
    cut falls inside it, before an assistant message, so a tool call and its results always
    stay on the same side. When nothing fits, the smallest valid remainder is kept.
    """
    costs = [0 if is_compaction(m) else estimate_tokens(m) for m in messages]
    counts = [0 if is_compaction(m) else 1 for m in messages]
    suffix_cost, suffix_count = [0] * (len(messages) + 1), [0] * (len(messages) + 1)
    for i in range(len(messages) - 1, -1, -1):
        suffix_cost[i] = suffix_cost[i + 1] + costs[i]
        suffix_count[i] = suffix_count[i + 1] + counts[i]
    users = [i for i in range(len(messages)) if messages[i].role == "user"]
    last_user = users[-1] if users else -1
    candidates = [start, *(i for i in users if i > start)]
    inside = [
        i
        for i in range(max(start, last_user + 1), len(messages))
        if messages[i].role == "assistant"
    ]
    question = estimate_tokens(messages[last_user]) if last_user >= 0 else 0
    for cut in [*candidates, *inside]:
        extra = (question, 1) if cut > last_user >= 0 else (0, 0)  # the question goes in front
        if (
            suffix_cost[cut] + extra[0] <= max_tokens
            and suffix_count[cut] + extra[1] <= max_messages
        ):
            return cut
    if inside:
        return inside[-1]
    return max(start, last_user)
