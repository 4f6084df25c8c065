"""Builds the channel-independent parts from config: store, model, tools, Coordinator."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from src.agents.coordinator import Coordinator
from src.config import Config
from src.conversation.store import ConversationStore, create_store
from src.llm.client import LLMClient
from src.mcp.config import MCPFileConfig
from src.tools.builtin import CurrentTimeTool
from src.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: Config
    store: ConversationStore
    llm: LLMClient
    tools: ToolRegistry
    coordinator: Coordinator

    async def close(self) -> None:
        try:
            await self.llm.aclose()
        finally:
            await self.store.close()


def build_tools(config: Config) -> ToolRegistry:
    registry = ToolRegistry(config.tools.max_result_chars)
    registry.register(CurrentTimeTool(config.tools.default_timezone))
    return registry


async def open_runtime(
    config: Config, mcp: MCPFileConfig | None = None, config_file: str = "config.yml"
) -> Runtime:
    """Create and open everything a turn needs. Raises ConversationError if the store fails."""
    store = create_store(config.store, config_file)
    await store.open()
    llm = LLMClient(config.llm)
    tools = build_tools(config)
    coordinator = Coordinator(config, store, llm, tools)
    return Runtime(config, store, llm, tools, coordinator)
