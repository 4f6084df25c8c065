"""The Coordinator: takes a Request, picks an agent, runs the turn, returns a Response."""

from __future__ import annotations

import logging
from typing import Any

from src.access import Access
from src.agents.access_commands import ADMIN_COMMANDS, AccessCommands
from src.agents.agent import Agent
from src.agents.audit_commands import AUDIT_COMMANDS, AuditCommands
from src.agents.commands import COMMANDS, ChatCommands, parse
from src.agents.delegation import Delegation
from src.agents.routing import PINNED_KEY, Router
from src.agents.types import NullSink, ReplySink, Request, Response, Toolbox
from src.approval.runner import ToolRunner
from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config
from src.conversation.compaction import Summariser
from src.conversation.images import IMAGES_KEY, ImageSource, Vision
from src.conversation.manager import ConversationManager, Meter
from src.conversation.message import Message
from src.conversation.usage import Cost
from src.conversation.visible import is_blank
from src.conversation.window import no_images_record, refused_turn_record
from src.errors import (
    EmptyMessageError,
    ImageInputRefusedError,
    LimitReachedError,
    LLMContentRefusedError,
)
from src.limits.policy import TurnMeter, create_limits
from src.limits.report import month_summary
from src.llm.client import ChatModel
from src.memory.commands import MEMORY_COMMANDS, MemoryCommands
from src.memory.service import Memory
from src.ops import metrics
from src.store import Storage
from src.tools.context import TurnContext, current_turn, turn_context
from src.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

NO_ANSWER = "I have no answer to that. Could you rephrase it?"


class Coordinator:
    def __init__(
        self,
        config: Config,
        storage: Storage,
        llm: ChatModel,
        tools: ToolRegistry,
        clock: Clock = SYSTEM_CLOCK,
        access: Access | None = None,
        memory: Memory | None = None,
    ) -> None:
        self.config = config
        self.storage = storage
        self.tools = tools
        # Every tool call runs through it: approvals and the audit trail (src/approval/). The
        # channel gives it its Approver.
        self.tool_runner = ToolRunner(storage.records, config.approval, config.audit, clock)
        self.agents = {
            agent.name: Agent(agent, llm, tools, config.agents.max_tool_rounds, self.tool_runner)
            for agent in config.agents.list
        }
        self.default_agent = config.agents.default
        self.router = Router(config.agents, llm)
        self.summariser = (
            Summariser(llm, config.conversation.compaction)
            if config.conversation.compaction.enabled
            else None
        )
        self.limits, self.rate = create_limits(config, storage.records, clock)
        self.chat_commands = ChatCommands(config, storage.records, self.limits)
        # The one allowlist of every channel, loaded (src/runtime.py builds it). Without one,
        # config's lists and the store, unread (what tests that need no allowlist get).
        self.access = access if access is not None else Access.from_config(config, storage.records)
        self.access_commands = AccessCommands(self.access, spend=self._month_spend)
        self.audit_commands = AuditCommands(self.tool_runner.audit, self.access, config.audit.show)
        # Long-term memory (src/memory/): None when memory.enabled is off.
        self.memory = memory
        self.memory_commands = MemoryCommands(memory) if memory is not None else None
        # Where stored image references become data URLs (the channel sets it: Telegram
        # downloads by file id). None: images are sent as their text stand-ins.
        self.images: ImageSource | None = None

    def conversation(self, conversation_id: str, meter: Meter | None = None) -> ConversationManager:
        return ConversationManager(
            conversation_id,
            self.storage.conversations,
            self.storage.records,
            self.config.conversation.max_history_messages,
            self.config.conversation.max_context_tokens,
            self.summariser,
            meter,
            self._vision(),
        )

    def _vision(self) -> Vision:
        vision = self.config.vision
        source = self.images if vision.enabled else None
        return Vision(source, vision.keep_turns, vision.detail)

    async def process_request(self, request: Request, sink: ReplySink | None = None) -> Response:
        """Answer one request. Idempotent per `request.update_id`: a request already in the
        history is resumed (or its stored answer returned), never added twice."""
        if is_blank(request.text):  # channels check first; this keeps it out of any history
            raise EmptyMessageError("the message has no visible text")
        refusal = await self.limits.check(request.user_id)
        if refusal is not None:  # before any model call, and the message is not stored
            logger.info(
                "conversation %s: user %s is over %s",
                request.conversation_id,
                request.user_id,
                refusal.limit.name,
            )
            metrics.record_limit_refusal(refusal.limit.name)
            raise LimitReachedError(refusal.text)
        with turn_context(_context_of(request)):
            return await self._process(request, sink or NullSink())

    async def _process(self, request: Request, sink: ReplySink) -> Response:
        meter = TurnMeter(self.limits, request.user_id)
        conversation = self.conversation(request.conversation_id, meter)
        replay = await self._resume(conversation, request)
        if replay is not None:
            return replay
        try:
            return await self._answer(conversation, request, sink, meter)
        except ImageInputRefusedError:
            # The model takes no images: later windows send the stored ones as text. A turn
            # with no image of its own was refused for an earlier one: it is tried again.
            await conversation.flush()
            await conversation.add(no_images_record())
            logger.warning(
                "conversation %s: the model takes no image input; images are sent as text "
                "from here on",
                request.conversation_id,
            )
            if request.metadata.get(IMAGES_KEY):
                raise
            return await self._answer(conversation, request, sink, meter)
        except LLMContentRefusedError:
            # Keep what the user said, and mark the turn so that no later window carries it
            # (it would be refused again, and the chat with it).
            await conversation.flush()
            await conversation.add(refused_turn_record())
            raise
        except Exception:
            # No answer to store the request with: store it alone, so that the history
            # keeps what the user said (the inbox is told the turn is over either way).
            await conversation.flush()
            raise

    async def _answer(
        self,
        conversation: ConversationManager,
        request: Request,
        sink: ReplySink,
        meter: TurnMeter,
    ) -> Response:
        metadata = await conversation.metadata()
        pinned = metadata.get(PINNED_KEY)
        route = await self.router.route(request.text, pinned if isinstance(pinned, str) else None)
        if route.model is not None:  # the classifier was asked
            await conversation.record_usage(Cost(route.model, route.usage))
        agent = self.agents[route.agent]
        logger.info(
            "conversation %s: turn with agent %s (%s)",
            request.conversation_id,
            agent.name,
            route.via,
        )
        notes: dict[str, Any] = {"route": route.to_metadata()}
        toolbox = None
        if self.config.agents.routing == "delegate" and len(self.agents) > 1:
            delegation = Delegation(
                self.config.agents, self.agents, self.tools, conversation, sink, notes
            )
            toolbox = delegation.toolbox(agent)
        result = await agent.run(
            conversation,
            sink,
            reply_to=request.update_id,
            toolbox=toolbox,
            notes=notes,
            model=self.chat_commands.pinned_model(metadata),
            stop=meter.stop_note,
            memory=await self.memory.block(current_turn(), request.text) if self.memory else None,
        )
        if self.memory is not None:  # memory.auto_extract: facts noticed, in the background
            self.memory.after_turn(
                current_turn(), request.text, result.text, conversation.record_usage
            )
        return Response(
            text=result.text.strip() or NO_ANSWER,
            usage=result.usage,
            agent=agent.name,
            model=result.model,
            tool_calls=result.tool_calls,
            history_set_aside=result.history_set_aside,
            notices=tuple(meter.notes),
        )

    def commands(self) -> dict[str, str]:
        """Chat commands the Coordinator answers itself (name -> menu description)."""
        memory = MEMORY_COMMANDS if self.memory_commands is not None else {}
        return {**COMMANDS, **memory, **ADMIN_COMMANDS, **AUDIT_COMMANDS}

    async def handle_command(self, conversation_id: str, text: str, user_id: int | None) -> str:
        """Answer one of `commands()`; `text` is the whole message ("/name args"); `user_id`
        None is the console's operator (an admin).

        Raises UserInputError with a message for the user when the arguments are wrong.
        """
        if parse(text)[0] in ADMIN_COMMANDS:
            return await self.access_commands.handle(text, user_id)
        if parse(text)[0] in AUDIT_COMMANDS:
            return await self.audit_commands.handle(text, user_id)
        if self.memory_commands is not None and parse(text)[0] in MEMORY_COMMANDS:
            return await self.memory_commands.handle(conversation_id, text, user_id)
        return await self.chat_commands.handle(conversation_id, text, user_id)

    async def _month_spend(self, user_id: int) -> str:
        """A user's spend this month, for /users."""
        return month_summary(await self.limits.ledger.spend(user_id))

    async def reset(self, conversation_id: str) -> None:
        await self.conversation(conversation_id).reset()

    async def _resume(self, conversation: ConversationManager, request: Request) -> Response | None:
        """Stage the user message (stored with the first answer to it), or, if it is already
        stored, pick the turn up where it was."""
        recent = await conversation.recent()
        index = _find_request(recent, request.update_id)
        if index is None:
            metadata: dict[str, object] = {"source": request.source, **request.metadata}
            if request.update_id is not None:
                metadata["update_id"] = request.update_id
            if request.user_id is not None:
                metadata["user_id"] = request.user_id
            await conversation.stage(Message(role="user", content=request.text, metadata=metadata))
            return None
        answer = _stored_answer(recent[index + 1 :])
        if answer is not None:
            logger.info(
                "conversation %s: update %s already answered; delivering the stored answer",
                conversation.conversation_id,
                request.update_id,
            )
            return Response(
                text=(answer.content or "").strip() or NO_ANSWER,
                agent=str(answer.metadata.get("agent", "")),
                model=str(answer.metadata.get("model", "")),
                replayed=True,
            )
        logger.info(
            "conversation %s: resuming the interrupted turn of update %s",
            conversation.conversation_id,
            request.update_id,
        )
        await conversation.repair(self.tool_runner.finisher(self._toolbox_of))
        return None

    def _toolbox_of(self, agent: str) -> Toolbox | None:
        """An agent's own tools (a resumed tool call runs with the agent that made it)."""
        found = self.agents.get(agent)
        return Toolbox(self.tools, tuple(found.config.tools)) if found is not None else None


def _context_of(request: Request) -> TurnContext:
    chat_type = request.metadata.get("chat_type")
    if not isinstance(chat_type, str):
        chat_type = "console" if request.source == "console" else "private"
    return TurnContext(request.conversation_id, request.user_id, chat_type, request.outbox)


def _find_request(messages: list[Message], update_id: int | None) -> int | None:
    if update_id is None:
        return None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "user":
            stored = message.metadata.get("update_id")
            if stored == update_id:
                return index
            if isinstance(stored, int) and stored < update_id:
                return None  # update ids only grow: it is not further back either
    return None


def _stored_answer(after: list[Message]) -> Message | None:
    for message in after:
        if message.role == "assistant" and not message.tool_calls:
            return message
        if message.role == "user":
            return None
    return None
