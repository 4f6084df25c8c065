"""The agent loop: call the model, run the tools it asks for, repeat up to a cap.

When the endpoint refuses a request built from the history (a 400: a message some provider
will not take, content its policy refuses, a shape it does not accept), the chat must not
stay broken, and every later request would carry the same history. So the round is tried
once more with only the system prompt and the current turn (its question and this turn's
tool rounds). If that works, a set-aside record is stored with the answer (see
src/conversation/window.py): later windows start at this turn, the full history stays
stored, and the channel tells the user once. If it fails too, the current turn itself is
the problem and the error goes up (the user is told to rephrase, or to /reset).

Why this recovery: it needs no guess at which stored message is at fault (the provider does
not say), costs one extra request only when the endpoint has already refused, keeps every
stored message (compaction and /reset are still the only ways history shrinks or goes), and
a chat that hit it works again at the very next turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from src.agents.types import Conversation, ReplySink, Toolbox
from src.config import AgentConfig
from src.conversation.message import Message
from src.conversation.usage import Cost
from src.conversation.window import Window, set_aside_record
from src.errors import ImageInputRefusedError, LLMRequestRefusedError
from src.llm.client import ChatModel, LLMResponse, Usage
from src.ops import metrics
from src.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from src.approval.runner import ToolRunner

logger = logging.getLogger(__name__)

NOT_RUN = "Not run: the user's spending limit was reached, so the turn stopped here."


@dataclass(frozen=True)
class AgentResult:
    text: str
    usage: Usage
    model: str
    tool_calls: int
    history_set_aside: bool = False


class Agent:
    """One specialised agent: a system prompt, a model, and the tools it may use."""

    def __init__(
        self,
        config: AgentConfig,
        llm: ChatModel,
        tools: ToolRegistry,
        max_tool_rounds: int,
        runner: ToolRunner | None = None,
    ) -> None:
        """`runner` runs each tool call (asking the user first where a tool says so, and
        auditing it: src/approval/); without one, calls go to the registry directly."""
        self.config = config
        self.name = config.name
        self.llm = llm
        self.tools = tools
        self.max_tool_rounds = max_tool_rounds
        self.runner = runner

    async def run(
        self,
        conversation: Conversation,
        sink: ReplySink,
        reply_to: int | None = None,
        *,
        toolbox: Toolbox | None = None,
        notes: dict[str, Any] | None = None,
        model: str | None = None,
        stop: Callable[[], str | None] | None = None,
        memory: str | None = None,
    ) -> AgentResult:
        """Run the loop on the conversation as it stands; every step is stored as it happens.

        The last round offers no tool calls (tool_choice "none"), so a turn always ends with
        an answer. `reply_to` is recorded on the final message (the request it answers), and
        so is `notes` (how the agent was chosen, what it delegated), as it is by then.
        `toolbox` replaces the agent's own tools (delegation adds ask_<agent> tools).
        `model` replaces the agent's model (a chat's /model pin). `stop`, asked after each
        model call that wants tools, returns a note when the turn must end there (a spend
        limit was crossed): the tools are not run and the note ends the answer. `memory`
        (the user's facts, src/memory/prompt.py) follows the system prompt in the system
        message.
        """
        box = toolbox or Toolbox(self.tools, tuple(self.config.tools))
        schemas = box.registry.schemas(box.patterns) or None
        usage = Usage()
        calls = 0
        set_aside = False  # this turn runs without the earlier history
        prompt = "\n\n".join(p for p in (self.config.system_prompt, memory) if p) or None
        for round_number in range(self.max_tool_rounds + 1):
            final_round = round_number == self.max_tool_rounds
            window = await conversation.request_window(prompt, schemas)
            sent: Window | None = window  # the estimate to learn from
            mark: list[Message] = []
            try:
                response = await self._ask(window.messages, schemas, final_round, sink, model)
            except ImageInputRefusedError:
                raise  # the model takes no images: the history is not at fault
            except LLMRequestRefusedError as exc:
                # Once set aside, the windows start at this turn (the record is stored).
                alone = self._current_turn(window.messages, prompt)
                if alone == window.messages:
                    raise  # nothing of the history was in it: the turn itself is refused
                where = getattr(conversation, "conversation_id", "?")
                logger.warning(
                    "conversation %s: %s; trying the turn once without %d earlier message(s)",
                    where,
                    exc,
                    len(window.messages) - len(alone),
                )
                response = await self._ask(alone, schemas, final_round, sink, model)
                logger.warning(
                    "conversation %s: the turn worked without its history, which is set aside "
                    "from here on (still stored)",
                    where,
                )
                set_aside, sent, mark = True, None, [set_aside_record()]
            usage = usage + (response.usage or Usage())
            if response.usage is not None:
                metrics.record_tokens(
                    response.model or self.config.model or "",
                    response.usage.prompt_tokens,
                    response.usage.completion_tokens,
                )
            tool_calls = [] if final_round else response.tool_calls
            done = not tool_calls
            await conversation.add(
                *mark,
                _assistant_message(
                    response,
                    tool_calls,
                    self.name,
                    reply_to if done else None,
                    notes if done else None,
                ),
                cost=Cost(response.model or self.config.model or "", response.usage, sent),
            )
            if done:
                return AgentResult(response.text, usage, response.model, calls, set_aside)
            note = stop() if stop is not None else None
            if note is not None:
                text = await self._stop(conversation, response, tool_calls, note, reply_to, notes)
                return AgentResult(text, usage, response.model, calls, set_aside)
            for call in tool_calls:
                await sink.on_tool_call(call.name)
                if self.runner is not None:
                    result = await self.runner.run(box, call)
                else:
                    result = await box.registry.execute(call.name, call.arguments, box.patterns)
                calls += 1
                await conversation.add(
                    Message(
                        role="tool",
                        content=result.content,
                        tool_call_id=call.id,
                        metadata={"tool": call.name, "is_error": result.is_error},
                    )
                )
        raise AssertionError("unreachable: the final round offers no tools")

    async def _stop(
        self,
        conversation: Conversation,
        response: LLMResponse,
        tool_calls: list[Any],
        note: str,
        reply_to: int | None,
        notes: dict[str, Any] | None,
    ) -> str:
        """End the turn without running the tools the model asked for: each call gets a
        "not run" result (the history stays valid) and the note is the final answer."""
        for call in tool_calls:
            await conversation.add(
                Message(
                    role="tool",
                    content=NOT_RUN,
                    tool_call_id=call.id,
                    metadata={"tool": call.name, "is_error": True, "not_run": "limit"},
                )
            )
        text = f"{response.text.strip()}\n\n{note}".strip()
        final = LLMResponse(text=text, model=response.model)
        message = _assistant_message(final, [], self.name, reply_to, notes)
        message.metadata["stopped"] = "limit"
        await conversation.add(message)
        return text

    async def _ask(
        self,
        messages: list[dict[str, Any]],
        schemas: list[dict[str, Any]] | None,
        final_round: bool,
        sink: ReplySink,
        model: str | None = None,
    ) -> LLMResponse:
        return await self.llm.chat(
            messages,
            schemas,
            model=model or self.config.model,
            temperature=self.config.temperature,
            tool_choice="none" if final_round and schemas else None,
            on_delta=sink.on_delta,
        )

    def _current_turn(
        self, messages: list[dict[str, Any]], prompt: str | None
    ) -> list[dict[str, Any]]:
        """The system prompt and the messages from the last user message on."""
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
        system = [{"role": "system", "content": prompt}] if prompt else []
        return system + messages[last_user:]


def _assistant_message(
    response: LLMResponse,
    tool_calls: list[Any],
    agent: str,
    reply_to: int | None,
    notes: dict[str, Any] | None,
) -> Message:
    metadata: dict[str, Any] = {**(notes or {}), "agent": agent, "model": response.model}
    if response.usage is not None:
        metadata["usage"] = {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
        }
    if reply_to is not None:
        metadata["reply_to"] = reply_to
    return Message(
        role="assistant",
        content=response.text or None,
        tool_calls=[call.to_api() for call in tool_calls] or None,
        metadata=metadata,
    )
