"""The slice of history sent to the model: always valid for the Chat Completions API."""

from __future__ import annotations

import json

from src.conversation.message import Message

_PER_MESSAGE = 4


def estimate_tokens(message: Message) -> int:
    """A local token estimate (about four characters a token), no network needed."""
    chars = len(message.content or "")
    for call in message.tool_calls or []:
        chars += len(json.dumps(call.get("function", {}), ensure_ascii=False))
    return _PER_MESSAGE + chars // 4


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
