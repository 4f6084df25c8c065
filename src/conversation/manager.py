"""ConversationManager: one conversation's history, loaded lazily, persisted on every add."""

from __future__ import annotations

import logging

from src.conversation.message import Message
from src.conversation.store.base_store import ConversationStore
from src.conversation.window import select_window

logger = logging.getLogger(__name__)

INTERRUPTED = "Error: this tool call was interrupted before it returned a result."


class ConversationManager:
    def __init__(
        self,
        conversation_id: str,
        store: ConversationStore,
        max_history_messages: int = 200,
        max_context_tokens: int = 12000,
    ) -> None:
        self.conversation_id = conversation_id
        self.store = store
        self.max_history_messages = max_history_messages
        self.max_context_tokens = max_context_tokens
        self._recent: list[Message] | None = None

    async def recent(self) -> list[Message]:
        """The tail of the history (at most max_history_messages), loaded once."""
        if self._recent is None:
            self._recent = await self.store.load_recent(
                self.conversation_id, self.max_history_messages
            )
        return self._recent

    async def add(self, *messages: Message) -> None:
        """Persist messages (one append), then keep them in the loaded tail."""
        recent = await self.recent()
        await self.store.append_messages(self.conversation_id, list(messages))
        recent.extend(messages)  # a turn's additions are bounded by max_tool_rounds

    async def window(self, system_prompt: str | None = None) -> list[dict[str, object]]:
        """The API messages for the next model request: system prompt plus a valid window."""
        system = [Message(role="system", content=system_prompt)] if system_prompt else []
        reserved = sum(len(m.content or "") // 4 + 4 for m in system)
        chosen = select_window(
            await self.recent(), self.max_history_messages, self.max_context_tokens, reserved
        )
        return [m.to_api() for m in system + chosen]

    async def repair(self) -> int:
        """Answer tool calls left without a result (a turn cut off by a crash or shutdown).

        Returns how many placeholder results were stored.
        """
        recent = await self.recent()
        last_call = None
        for index in range(len(recent) - 1, -1, -1):
            message = recent[index]
            if message.role == "assistant" and message.tool_calls:
                last_call = index
                break
            if message.role != "tool":
                break
        if last_call is None:
            return 0
        answered = {m.tool_call_id for m in recent[last_call + 1 :]}
        missing = [i for i in recent[last_call].tool_call_ids if i not in answered]
        if missing:
            logger.warning(
                "conversation %s: %d interrupted tool call(s) closed",
                self.conversation_id,
                len(missing),
            )
            await self.add(
                *(Message(role="tool", content=INTERRUPTED, tool_call_id=i) for i in missing)
            )
        return len(missing)

    async def reset(self) -> None:
        await self.store.delete_conversation(self.conversation_id)
        self._recent = []
