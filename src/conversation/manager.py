"""ConversationManager: one conversation's history, loaded lazily, persisted on every add.

It also builds each model request's window within the token budget: when the history no
longer fits, the oldest part is summarised into a compaction record (or, if that fails or
is turned off, the oldest turns are left out). The full history always stays in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from src.conversation import settings
from src.conversation.budget import RATIO_KEY, corrected, stored_ratio, updated_ratio
from src.conversation.compaction import SUMMARY_HEADER, Summariser, compaction_record
from src.conversation.images import Vision, with_images
from src.conversation.message import Message
from src.conversation.usage import Cost, add_usage
from src.conversation.window import (
    Window,
    choose_cut,
    estimate_tokens,
    estimate_tools,
    is_compaction,
    latest_summary,
    messages_from,
    select_window,
)
from src.errors import ConversationError, LLMError
from src.store.conversations import ConversationStore
from src.store.records import RecordStore

logger = logging.getLogger(__name__)

INTERRUPTED = "Error: this tool call was interrupted before it returned a result."

# Told of every model request counted in this conversation (the spend ledger's turn meter).
Meter = Callable[[Cost], Awaitable[None]]
# Given the assistant message and one of its calls left without a result, the call's result
# when the caller can finish it (a call that was waiting for the user's approval), else None.
Finish = Callable[[Message, dict[str, Any]], Awaitable[Message | None]]


class ConversationManager:
    def __init__(
        self,
        conversation_id: str,
        store: ConversationStore,
        records: RecordStore,
        max_history_messages: int = 200,
        max_context_tokens: int = 12000,
        summariser: Summariser | None = None,
        meter: Meter | None = None,
        vision: Vision | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        self.store = store
        self.records = records
        self.max_history_messages = max_history_messages
        self.max_context_tokens = max_context_tokens
        self.summariser = summariser
        self.meter = meter
        self.vision = vision  # None: messages with images are sent as their stand-ins
        self._recent: list[Message] | None = None
        self._metadata: dict[str, Any] | None = None
        self._staged: list[Message] = []  # in the tail, not yet stored

    async def recent(self) -> list[Message]:
        """The tail of the history (at most max_history_messages), loaded once."""
        if self._recent is None:
            self._recent = await self.store.load_recent(
                self.conversation_id, self.max_history_messages
            )
        return self._recent

    async def metadata(self) -> dict[str, Any]:
        """The conversation's record (settings.py) as first read in this turn (a snapshot)."""
        if self._metadata is None:
            self._metadata = await settings.load(self.records, self.conversation_id)
        return self._metadata

    async def add(self, *messages: Message, cost: Cost | None = None) -> None:
        """Persist messages (one append, after any staged ones), then keep them in the tail.
        With `cost`, the model request that produced them is counted right after: stored
        messages first, so a crash cannot count a request whose answer was lost."""
        recent = await self.recent()
        batch = [*self._staged, *messages]
        await self.store.append_messages(self.conversation_id, batch)
        self._staged = []
        if cost is not None:
            await self.record_usage(cost)
        recent.extend(messages)  # a turn's additions are bounded by max_tool_rounds

    async def stage(self, message: Message) -> None:
        """Put `message` in the tail now and store it with the next `add` (or `flush`): a
        request is written together with the first answer to it, in one append. Until
        then it is only in memory; the channel's inbox holds it durably."""
        (await self.recent()).append(message)
        self._staged.append(message)

    async def flush(self) -> None:
        """Store staged messages now (a turn that ends without an answer to store)."""
        if self._staged:
            await self.add()

    async def window(self, system_prompt: str | None = None) -> list[dict[str, object]]:
        """The API messages for the next model request: system prompt plus a valid window."""
        return (await self.request_window(system_prompt)).messages

    async def request_window(
        self, system_prompt: str | None = None, tools: list[dict[str, Any]] | None = None
    ) -> Window:
        """The next model request's messages, within max_context_tokens (estimate times the
        learnt ratio) and max_history_messages, compacting the history if it has to."""
        recent = await self.recent()
        ratio = stored_ratio(await self.metadata())
        summary, start = latest_summary(recent)
        body = await self._body(recent, start)
        window = self._assemble(system_prompt, tools, summary, body)
        if self._fits(window, ratio):
            return window
        if self.summariser is not None and self.summariser.available:
            if await self._compact(system_prompt, tools, summary, start, ratio):
                summary, start = latest_summary(recent)
                body = await self._body(recent, start)
                window = self._assemble(system_prompt, tools, summary, body)
                if self._fits(window, ratio):
                    return window
        # Summarising is off or failed: leave out the oldest turns instead.
        fixed = self._assemble(system_prompt, tools, summary, []).estimated_tokens
        chosen = select_window(
            body,
            self.max_history_messages,
            int(self.max_context_tokens / ratio),
            fixed,
        )
        return self._assemble(system_prompt, tools, summary, chosen)

    async def _body(self, recent: list[Message], start: int) -> list[Message]:
        """The messages after `start`, ready to send, each image as data or its stand-in."""
        vision = self.vision or Vision(source=None)
        return await with_images(messages_from(recent, start), recent, vision, self.conversation_id)

    async def record_usage(self, cost: Cost) -> None:
        """Count a model request in the conversation's totals and, through the meter, in the
        spend of the user who asked. `add` calls it for the requests that produced messages;
        callers call it for those that did not (the classifier's)."""
        self._learn(await settings.change(self.records, self.conversation_id, _counted(cost)))
        if self.meter is not None:
            await self.meter(cost)

    def _learn(self, saved: dict[str, Any]) -> None:
        if self._metadata is not None and RATIO_KEY in saved:
            self._metadata[RATIO_KEY] = saved[RATIO_KEY]

    async def repair(self, finish: Finish | None = None) -> int:
        """Answer tool calls left without a result (a turn cut off by a crash or shutdown).
        `finish` may answer a call itself (one that was waiting for the user's approval picks
        up again: src/approval/); the others get an "interrupted" result.

        Returns how many placeholder results were stored.
        """
        recent = await self.recent()
        last_call = None
        for index in range(len(recent) - 1, -1, -1):
            message = recent[index]
            if message.role == "assistant" and message.tool_calls:
                last_call = index
                break
            if message.role != "tool" and not is_compaction(message):
                break
        if last_call is None:
            return 0
        answered = {m.tool_call_id for m in recent[last_call + 1 :]}
        missing = [i for i in recent[last_call].tool_call_ids if i not in answered]
        calls = {str(call.get("id")): call for call in recent[last_call].tool_calls or []}
        results: list[Message] = []
        for call_id in missing:
            finished = await finish(recent[last_call], calls[call_id]) if finish else None
            results.append(
                finished or Message(role="tool", content=INTERRUPTED, tool_call_id=call_id)
            )
        closed = sum(1 for m in results if m.content == INTERRUPTED)
        if closed:
            logger.warning(
                "conversation %s: %d interrupted tool call(s) closed", self.conversation_id, closed
            )
        if results:
            await self.add(*results)
        return closed

    async def reset(self) -> None:
        await self.store.delete_conversation(self.conversation_id)
        await settings.forget(self.records, self.conversation_id)
        self._recent = []
        self._metadata = {}

    # -- compaction ----------------------------------------------------------------------

    def _fits(self, window: Window, ratio: float) -> bool:
        system = bool(window.messages) and window.messages[0].get("role") == "system"
        return (
            corrected(window.estimated_tokens, ratio) <= self.max_context_tokens
            and len(window.messages) - system <= self.max_history_messages
        )

    async def _compact(
        self,
        system_prompt: str | None,
        tools: list[dict[str, Any]] | None,
        summary: Message | None,
        start: int,
        ratio: float,
    ) -> bool:
        """Summarise from `start` up to a cut that leaves the newest part within the keep
        share of the budget; store the summary as a compaction record. False if nothing
        was stored (nothing to summarise, or the summariser failed)."""
        assert self.summariser is not None
        recent = await self.recent()
        budget = int(self.max_context_tokens / ratio)
        target = self.summariser.target_tokens(budget)
        fixed = self._assemble(system_prompt, tools, None, []).estimated_tokens + target + 8
        keep = self.summariser.config.keep_fraction
        cut = choose_cut(
            recent,
            start,
            max(0, int((budget - fixed) * keep)),
            max(1, int((self.max_history_messages - 1) * keep)),
        )
        covered = [m for m in recent[start:cut] if not is_compaction(m)]
        if not covered:
            return False
        try:
            result = await self.summariser.summarise(
                summary.content if summary else None, covered, budget
            )
        except ConversationError:
            raise
        except Exception as exc:
            logger.warning(
                "conversation %s: summarising failed (%s); leaving out the oldest turns instead",
                self.conversation_id,
                exc,
                exc_info=not isinstance(exc, LLMError | TimeoutError),
            )
            return False
        record = compaction_record(result, kept=len(recent) - cut, summarised=len(covered))
        await self.add(record, cost=Cost(result.model, result.usage))
        logger.info(
            "conversation %s: %d message(s) summarised into %d characters",
            self.conversation_id,
            len(covered),
            len(result.text),
        )
        return True

    def _assemble(
        self,
        system_prompt: str | None,
        tools: list[dict[str, Any]] | None,
        summary: Message | None,
        body: list[Message],
    ) -> Window:
        parts = [system_prompt] if system_prompt else []
        if summary is not None and summary.content:
            parts.append(f"{SUMMARY_HEADER}\n{summary.content}")
        system = [Message(role="system", content="\n\n".join(parts))] if parts else []
        messages = system + body
        tokens = sum(estimate_tokens(m) for m in messages) + estimate_tools(tools)
        return Window([m.to_api() for m in messages], tokens)


def _counted(cost: Cost) -> Callable[[dict[str, Any]], None]:
    """The metadata change that counts `cost`; with its window, it also learns how far the
    local token estimate was off."""

    def change(meta: dict[str, Any]) -> None:
        add_usage(meta, cost.model, cost.usage)
        if cost.window is not None and cost.usage is not None:
            estimate = cost.window.estimated_tokens
            ratio = updated_ratio(stored_ratio(meta), estimate, cost.usage.prompt_tokens)
            meta[RATIO_KEY] = round(ratio, 4)

    return change
