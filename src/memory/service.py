"""Memory for a turn: whose facts apply, and the block that carries them to the model.

Facts belong to the Telegram user, not to a chat: their private chat and the groups they
use the bot in share them. In a group only the speaking user's facts are used, and only
with `memory.in_groups` on (else there is no block and the tools say memory is off in
groups). The console's operator has a memory of their own under `CONSOLE_OWNER` (0).
"""

from __future__ import annotations

import asyncio
import logging

from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config, MemoryConfig
from src.errors import ConversationError, FactRefusedError
from src.llm.client import ChatModel
from src.memory.extract import Extractor, Record
from src.memory.facts import CONSOLE_OWNER, is_group
from src.memory.prompt import memory_block
from src.memory.store import FactStore
from src.store.records import RecordStore
from src.tools.context import TurnContext

logger = logging.getLogger(__name__)

OFF_IN_GROUPS = (
    "memory is off in group chats (memory.in_groups in config.yml); the user can ask in "
    "their private chat with the assistant"
)


class Memory:
    def __init__(
        self,
        config: MemoryConfig,
        records: RecordStore,
        clock: Clock = SYSTEM_CLOCK,
        refresh_s: float | None = None,
    ) -> None:
        self.config = config
        self.store = FactStore(records, config, clock, refresh_s)
        self.extractor: Extractor | None = None  # auto_extract
        self._tasks: set[asyncio.Task[list[str]]] = set()

    def owner(self, context: TurnContext) -> int | None:
        """Whose memory this turn uses; None where it is off (a group, unless in_groups; a
        turn without a user that is not the console's)."""
        if is_group(context.chat_type, context.conversation_id) and not self.config.in_groups:
            return None
        if context.user_id is None:
            return CONSOLE_OWNER if context.chat_type == "console" else None
        return context.user_id

    def owner_for_tool(self, context: TurnContext) -> int:
        owner = self.owner(context)
        if owner is None:
            if context.user_id is None and context.chat_type != "console":
                raise FactRefusedError("memory belongs to a user, and this turn has none")
            raise FactRefusedError(OFF_IN_GROUPS)
        return owner

    async def block(self, context: TurnContext, message: str) -> str | None:
        """The memory block for this turn's system message, or None (no facts, memory off
        here, or the store failing: the turn goes on without it)."""
        owner = self.owner(context)
        if owner is None or self.config.max_prompt_chars <= 0:
            return None
        try:
            facts = await self.store.user(owner)
        except ConversationError as exc:
            logger.warning(
                "conversation %s: memory not read (%s); answering without it",
                context.conversation_id,
                exc,
            )
            return None
        return memory_block(facts, message, self.config.max_prompt_chars)

    def after_turn(self, context: TurnContext, said: str, answer: str, record: Record) -> None:
        """With auto_extract, start this turn's fact extraction in the background (`record`
        counts its model call); without it, nothing at all."""
        owner = self.owner(context)
        if self.extractor is None or owner is None or not answer.strip():
            return
        work = self.extractor.run(owner, context.conversation_id, said, answer, record)
        task = asyncio.create_task(work, name=f"memory-extract-{context.conversation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[list[str]]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("fact extraction failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait for the extractions running now (tests, and `close`)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Give running extractions `timeout_s` to finish, then cancel them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def create_memory(
    config: Config,
    records: RecordStore,
    clock: Clock = SYSTEM_CLOCK,
    llm: ChatModel | None = None,
) -> Memory | None:
    """The memory of config.yml's `memory` section; None when it is off. On DynamoDB other
    replicas may write facts too, so a user's cached facts are reread after `refresh_s`.
    With auto_extract, `llm` runs the extraction (the classifier's model, else llm.model)."""
    if not config.memory.enabled:
        return None
    refresh_s = config.memory.refresh_s if config.store.type == "dynamodb" else None
    memory = Memory(config.memory, records, clock, refresh_s)
    if config.memory.auto_extract and llm is not None:
        model = config.agents.classifier.model or config.llm.model
        memory.extractor = Extractor(llm, model, memory.store)
    return memory
