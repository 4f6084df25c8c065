"""The built-in memory tools the model sees: remember, forget, recall.

Each reads whose turn it is from `current_turn()`, never from its arguments, so the model
cannot read or change another user's memory. A fact refused (too long, empty, memory full,
off in this group) comes back to the model as a plain error it can explain.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from src.errors import ConversationError, FactRefusedError, ToolArgumentError, ToolError
from src.memory.facts import Fact, fact_id, normalise
from src.memory.service import Memory
from src.memory.store import UserFacts
from src.tools.base import Tool
from src.tools.context import current_turn
from src.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

RECALL_LIMIT = 20
LIST_LIMIT = 10
STORE_DOWN = "the memory store is not available right now; try again in a moment"


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _object(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {**schema, "additionalProperties": False}


class _MemoryTool(Tool):
    timeout_s = 30.0

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    async def execute(self, arguments: dict[str, Any]) -> str:
        context = current_turn()
        owner = self.memory.owner_for_tool(context)
        try:
            return await self.run(owner, context.conversation_id, arguments)
        except ConversationError as exc:
            logger.warning("conversation %s: memory: %s", context.conversation_id, exc)
            raise ToolError(STORE_DOWN) from None

    async def run(self, owner: int, conversation_id: str, arguments: dict[str, Any]) -> str:
        raise NotImplementedError


class RememberTool(_MemoryTool):
    name = "remember"
    description = (
        "Save one fact about the user in long-term memory: it stays after /reset and "
        "restarts, and later conversations see it. Use it when the user asks you to remember "
        "something, or tells you something lasting about themselves (name, family, diet, "
        "preferences). One short fact per call that makes sense on its own."
    )
    parameters = _object(fact=_string("The fact, in a sentence or two"), required=("fact",))

    async def run(self, owner: int, conversation_id: str, arguments: dict[str, Any]) -> str:
        fact, new = await self.memory.store.remember(owner, arguments["fact"], conversation_id)
        if new:
            return f"Remembered (id {fact.id})."
        return f"Already remembered (id {fact.id}); it is the newest fact again."


class ForgetTool(_MemoryTool):
    name = "forget"
    description = (
        "Delete one fact from the user's long-term memory, by its id (from the memory block "
        "or recall) or by its text. Give exactly one of id and text."
    )
    parameters = _object(
        id=_string("The fact's id"),
        text=_string("The fact's text, or a part of it that only this fact has"),
    )

    async def run(self, owner: int, conversation_id: str, arguments: dict[str, Any]) -> str:
        identifier = str(arguments.get("id") or "").strip()
        text = str(arguments.get("text") or "").strip()
        if bool(identifier) == bool(text):
            raise ToolArgumentError("give exactly one of id and text")
        facts = await self.memory.store.user(owner)
        found = facts.with_prefix(identifier) if identifier else _by_text(facts, text)
        if not found:
            raise FactRefusedError(_nothing(facts, identifier, text))
        if len(found) > 1:
            lines = "\n".join(fact.line for fact in found[:LIST_LIMIT])
            raise FactRefusedError(
                f"{len(found)} facts match; nothing was forgotten. Call forget with the id "
                f"of the one to forget:\n{lines}"
            )
        await self.memory.store.forget(owner, found[0].id)
        return f"Forgotten: {found[0].line}"


def _by_text(facts: UserFacts, text: str) -> list[Fact]:
    exact = facts.get(fact_id(text))
    if exact is not None:
        return [exact]
    wanted = normalise(text)
    if not wanted:
        return []
    return [fact for fact in facts.newest() if wanted in normalise(fact.text)]


def _nothing(facts: UserFacts, identifier: str, text: str) -> str:
    if identifier:
        return f"no fact has the id {identifier[:40]!r}; recall shows facts with their ids"
    closest = facts.search(text, LIST_LIMIT // 2)
    if not closest:
        return "no remembered fact says that; nothing was forgotten"
    lines = "\n".join(fact.line for _, fact in closest)
    return (
        "no remembered fact says exactly that; nothing was forgotten. The closest ones "
        f"(call forget with an id to forget one):\n{lines}"
    )


class RecallTool(_MemoryTool):
    name = "recall"
    description = (
        "Search everything the user asked you to remember (the memory block in the system "
        "message shows only part of it when there is a lot). Returns the best matches with "
        "their ids and the date each was saved."
    )
    parameters = _object(
        query=_string("Words to look for; empty for the newest facts"), required=("query",)
    )

    async def run(self, owner: int, conversation_id: str, arguments: dict[str, Any]) -> str:
        facts = await self.memory.store.user(owner)
        if not len(facts):
            return "Nothing is remembered about this user yet."
        query = str(arguments.get("query") or "").strip()
        if query:
            found = [fact for _, fact in facts.search(query, RECALL_LIMIT)]
            if not found:
                return f"No remembered fact matches that ({len(facts):,} facts in all)."
            head = f"{len(found)} of {len(facts):,} facts match, best first:"
        else:
            found = list(islice(facts.newest(), RECALL_LIMIT))
            head = f"The newest {len(found)} of {len(facts):,} facts:"
        return "\n".join([head, *(_dated(fact) for fact in found)])


def _dated(fact: Fact) -> str:
    saved = datetime.fromtimestamp(fact.at, UTC).date().isoformat()
    return fact.line[:-1] + f', "saved": "{saved}"}}'


def register_memory_tools(registry: ToolRegistry, memory: Memory) -> None:
    for tool in (RememberTool(memory), ForgetTool(memory), RecallTool(memory)):
        registry.register(tool)
