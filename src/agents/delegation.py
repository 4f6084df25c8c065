"""`routing: delegate`: the answering agent gets one `ask_<name>` tool per other agent.

Calling it runs that agent on the sub-task, with the sub-agent's own system prompt, model
and tools, in a scratch conversation that holds only the sub-task (the sub-agent does not
see the chat). Its answer is the tool's result. Agents asked this way may delegate further
only while the depth is below `agents.max_delegation_depth`, and never to an agent already
in the chain. Every model request a sub-agent makes counts in the chat's usage totals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from src.agents.types import Conversation, ReplySink, Toolbox
from src.config import AgentsConfig
from src.conversation.message import Message
from src.conversation.usage import Cost
from src.conversation.window import Window, estimate_tokens, estimate_tools
from src.errors import LLMError, ToolError
from src.llm.client import Usage
from src.tools.base import Tool
from src.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from src.agents.agent import Agent

logger = logging.getLogger(__name__)

NO_ANSWER = "(the agent gave no answer)"


class Delegation:
    """One turn's delegation: builds toolboxes with ask tools and runs the asked agents."""

    def __init__(
        self,
        config: AgentsConfig,
        agents: Mapping[str, Agent],
        tools: ToolRegistry,
        parent: Conversation,
        sink: ReplySink,
        notes: dict[str, Any],
    ) -> None:
        self.config = config
        self.agents = agents
        self.tools = tools
        self.parent = parent
        self.sink = _QuietSink(sink)
        self.notes = notes

    def toolbox(self, agent: Agent, depth: int = 0, chain: tuple[str, ...] = ()) -> Toolbox:
        """`agent`'s own tools, plus ask tools while `depth` allows."""
        own = tuple(agent.config.tools)
        if depth >= self.config.max_delegation_depth:
            return Toolbox(self.tools, own)
        chain = (*chain, agent.name)
        others = [name for name in self.agents if name not in chain]
        if not others:
            return Toolbox(self.tools, own)
        registry = ToolRegistry(self.tools.max_result_chars)
        for name in self.tools.names():
            tool = self.tools.get(name)
            if tool is not None:
                registry.register(tool)
        asked = []
        for name in others:
            ask = AskAgentTool(self, self.agents[name], depth + 1, chain)
            if registry.get(ask.name) is not None:
                logger.error("tool %s exists already; agent %s cannot be asked", ask.name, name)
                continue
            registry.register(ask)
            asked.append(ask.name)
        return Toolbox(registry, (*own, *asked))

    async def ask(self, agent: Agent, task: str, depth: int, chain: tuple[str, ...]) -> str:
        scratch = ScratchConversation(task, self.parent)
        logger.info("agent %s asks agent %s (depth %d)", chain[-1], agent.name, depth)
        result = await agent.run(scratch, self.sink, toolbox=self.toolbox(agent, depth, chain))
        self.notes.setdefault("delegations", []).append(
            {
                "agent": agent.name,
                "asked_by": chain[-1],
                "depth": depth,
                "model": result.model,
                "tool_calls": result.tool_calls,
                "usage": {
                    "prompt_tokens": scratch.usage.prompt_tokens,
                    "completion_tokens": scratch.usage.completion_tokens,
                },
            }
        )
        return result.text.strip() or NO_ANSWER


class AskAgentTool(Tool):
    def __init__(
        self, delegation: Delegation, agent: Agent, depth: int, chain: tuple[str, ...]
    ) -> None:
        self.delegation = delegation
        self.agent = agent
        self.depth = depth
        self.chain = chain
        self.name = f"ask_{agent.name}"
        self.description = (
            f"Hand a sub-task to the {agent.name} agent"
            + (f" ({agent.config.description})" if agent.config.description else "")
            + ". It cannot see this conversation: give it everything it needs. "
            "Returns its answer."
        )
        self.parameters = {
            "type": "object",
            "properties": {
                "task": {"type": "string", "description": "The whole sub-task, self-contained"}
            },
            "required": ["task"],
            "additionalProperties": False,
        }
        self.timeout_s = delegation.config.delegation_timeout_s

    async def execute(self, arguments: dict[str, Any]) -> str:
        task = str(arguments["task"]).strip()
        if not task:
            raise ToolError("the task is empty")
        try:
            return await self.delegation.ask(self.agent, task, self.depth, self.chain)
        except LLMError as exc:
            logger.warning("agent %s failed on a delegated task: %s", self.agent.name, exc)
            raise ToolError(f"the {self.agent.name} agent could not finish: {exc}") from exc


class ScratchConversation:
    """A delegated sub-task's conversation: in memory only, usage counted in the parent's."""

    def __init__(self, task: str, parent: Conversation) -> None:
        self.messages = [Message(role="user", content=task)]
        self.parent = parent
        self.usage = Usage()

    async def request_window(
        self, system_prompt: str | None = None, tools: list[dict[str, Any]] | None = None
    ) -> Window:
        system = [Message(role="system", content=system_prompt)] if system_prompt else []
        messages = system + self.messages
        tokens = sum(estimate_tokens(m) for m in messages) + estimate_tools(tools)
        return Window([m.to_api() for m in messages], tokens)

    async def add(self, *messages: Message, cost: Cost | None = None) -> None:
        self.messages.extend(messages)
        if cost is not None:
            await self.record_usage(cost)

    async def record_usage(self, cost: Cost) -> None:
        self.usage = self.usage + (cost.usage or Usage())
        await self.parent.record_usage(Cost(cost.model, cost.usage))  # not the parent's window


class _QuietSink:
    """A sub-agent's progress: tool activity shows (typing…), its text does not stream."""

    def __init__(self, sink: ReplySink) -> None:
        self.sink = sink

    async def on_delta(self, text: str) -> None:
        return None

    async def on_tool_call(self, name: str) -> None:
        await self.sink.on_tool_call(name)
