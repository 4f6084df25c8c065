"""/memory and /forget: what the assistant remembers about you, and making it forget.

Answered by the Coordinator for every channel (the console's operator is `CONSOLE_OWNER`).
A user's memory is theirs: in a group these commands only point to the private chat, so
no one else in the group sees it.

`/forget all` asks first, and `/forget all confirm` does it. The confirmation is in the
command itself rather than an inline button (which would need callback handling in the
channel) or a pending state (which a restart or another replica would not know): it works
the same in every channel, after a restart and on any replica.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from src.agents.commands import parse
from src.errors import UserInputError
from src.memory.facts import CONSOLE_OWNER, Fact, is_group
from src.memory.service import Memory

MEMORY_COMMANDS = {
    "memory": "What I remember about you (kept after /reset)",
    "forget": "Make me forget a fact: /forget <id>, or /forget all",
}
LIST_LIMIT = 30
PRIVATE_ONLY = (
    "What I remember about you is private: use /memory and /forget in a private chat with me."
)
FOOTER = "/forget <id> forgets one, /forget all forgets everything. /reset doesn't touch these."
NOTHING = (
    "I don't remember anything about you yet. Tell me what to remember "
    '("remember that I am vegetarian") and I\'ll keep it across conversations.'
)
FORGET_USAGE = "Usage: /forget <id> (the ids are in /memory), or /forget all."


class MemoryCommands:
    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    async def handle(self, conversation_id: str, text: str, user_id: int | None) -> str:
        name, args = parse(text)
        if is_group("", conversation_id):
            raise UserInputError(PRIVATE_ONLY)
        owner = CONSOLE_OWNER if user_id is None else user_id
        if name == "memory":
            return await self.show(owner, args)
        if name == "forget":
            return await self.forget(owner, args)
        raise UserInputError("I don't know that command.")

    async def show(self, owner: int, query: str) -> str:
        facts = await self.memory.store.user(owner, fresh=True)
        total = len(facts)
        if not total:
            return NOTHING
        if query:
            found = [fact for _, fact in facts.search(query, LIST_LIMIT)]
            if not found:
                return f"None of the {total:,} facts I remember about you match that."
            head = f"{len(found)} of the {total:,} facts I remember about you match, best first:"
            return "\n".join([head, *map(_line, found), FOOTER])
        shown = list(islice(facts.newest(), LIST_LIMIT))
        if total == 1:
            head = "I remember 1 fact about you:"
        elif total <= LIST_LIMIT:
            head = f"I remember {total} facts about you, newest first:"
        else:
            head = f"I remember {total:,} facts about you; the newest {LIST_LIMIT}:"
        lines = [head, *map(_line, shown)]
        if total > LIST_LIMIT:
            lines.append("/memory <words> searches them all.")
        return "\n".join([*lines, FOOTER])

    async def forget(self, owner: int, args: str) -> str:
        words = args.lower().split()
        if not words:
            raise UserInputError(FORGET_USAGE)
        if words[0] == "all":
            if words[1:] == ["confirm"]:
                count = await self.memory.store.forget_all(owner)
                return f"Done: I've forgotten all {count:,} facts I remembered about you."
            total = len(await self.memory.store.user(owner, fresh=True))
            if not total:
                return NOTHING
            return (
                f"This makes me forget all {total:,} facts I remember about you, for good. "
                "To go ahead, send: /forget all confirm"
            )
        if len(words) > 1:
            raise UserInputError(FORGET_USAGE)
        facts = await self.memory.store.user(owner, fresh=True)
        found = facts.with_prefix(words[0])
        if not found:
            raise UserInputError(
                f"I have no fact with the id {words[0][:20]!r}. /memory lists them with their ids."
            )
        if len(found) > 1:
            raise UserInputError(
                f"{len(found)} facts have ids starting with {words[0]!r}; send more of the id."
            )
        await self.memory.store.forget(owner, found[0].id)
        return f"Forgotten: {found[0].text}"


def _line(fact: Fact) -> str:
    saved = datetime.fromtimestamp(fact.at, UTC).strftime("%Y-%m-%d")
    auto = ", noticed by me" if fact.source == "auto" else ""
    return f"• {fact.id}: {fact.text} ({saved}{auto})"
