"""Builds the channel-independent parts from config: store, allowlist, model, tools,
Coordinator."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.access import Access
from src.agents.coordinator import Coordinator
from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config
from src.llm.client import LLMClient
from src.memory.service import Memory, create_memory
from src.memory.tools import register_memory_tools
from src.scheduler.entries import Entries, UserZones
from src.scheduler.runner import Scheduler
from src.scheduler.tools import scheduler_tools
from src.store import Storage, create_storage
from src.tools.builtin import CurrentTimeTool
from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig

if TYPE_CHECKING:
    from src.toolservers.manager import MCPManager

logger = logging.getLogger(__name__)

SHARED_MAX_SLEEP_S = 60.0  # the scheduler's longest sleep on a store other processes share


@dataclass
class Runtime:
    config: Config
    storage: Storage
    access: Access
    llm: LLMClient
    tools: ToolRegistry
    coordinator: Coordinator
    mcp: MCPManager | None = None
    scheduler: Scheduler | None = None  # reminders (scheduler.enabled); a channel runs it

    async def close(self) -> None:
        try:
            if self.coordinator.memory is not None:  # its background extractions
                await self.coordinator.memory.close()
            if self.mcp is not None:
                await self.mcp.close()
        finally:
            try:
                await self.llm.aclose()
            finally:
                await self.storage.close()

    def tools_report(self) -> str:
        """Each tool server's state and tool names (`/tools`)."""
        if self.mcp is None:
            return "No tool servers are configured (mcp.yml)."
        return self.mcp.report()


def build_tools(config: Config, memory: Memory | None = None) -> ToolRegistry:
    registry = ToolRegistry(config.tools.max_result_chars)
    registry.register(CurrentTimeTool(config.tools.default_timezone))
    if memory is not None:  # remember, forget, recall
        register_memory_tools(registry, memory)
    return registry


def build_scheduler(
    config: Config, storage: Storage, tools: ToolRegistry, clock: Clock
) -> Scheduler | None:
    """The scheduler and its tools, when `scheduler.enabled`."""
    if not config.scheduler.enabled:
        return None
    entries = Entries(storage.records, config.scheduler.max_per_user)
    zones = UserZones(storage.records, config.tools.default_timezone)
    shared = config.store.type != "file"  # other processes' new entries cannot wake this one
    scheduler = Scheduler(
        entries,
        zones,
        clock,
        max_sleep_s=SHARED_MAX_SLEEP_S if shared else None,
        reclaim_at_start=config.queue.type != "sqs",  # replicas: another may hold the claim
    )
    for tool in scheduler_tools(entries, zones, config.scheduler, scheduler.wake, clock):
        tools.register(tool)
    return scheduler


async def open_runtime(
    config: Config,
    mcp: MCPFileConfig | None = None,
    config_file: str = "config.yml",
    clock: Clock = SYSTEM_CLOCK,
) -> Runtime:
    """Create and open everything a turn needs. Raises ConversationError if the store fails,
    ConfigError for a tool name collision among the tool servers found at start-up."""
    storage = create_storage(config.store, config_file)
    await storage.open()
    access = Access.from_config(config, storage.records, clock)
    try:
        await access.load()  # the users added at run time
    except BaseException:
        await storage.close()
        raise
    llm = LLMClient(config.llm)
    memory = create_memory(config, storage.records, clock, llm)
    tools = build_tools(config, memory)
    scheduler = build_scheduler(config, storage, tools, clock)
    coordinator = Coordinator(config, storage, llm, tools, clock, access=access, memory=memory)
    runtime = Runtime(config, storage, access, llm, tools, coordinator, scheduler=scheduler)
    if mcp is not None and (mcp.enabled_servers() or mcp.tools):
        # Imported only now: the mcp SDK takes a while to load. A server that is down delays
        # start-up at most mcp.yml `startup_wait`; it keeps being retried in the background.
        from src.toolservers.manager import MCPManager

        runtime.mcp = MCPManager(mcp, tools)
        try:
            await runtime.mcp.start()
        except BaseException:
            await runtime.close()
            raise
    return runtime
