"""The data of the smaller pages: tool servers, access, scheduled messages and memory.

Each reads what the running bot already holds (the tool servers' status, the allowlist, the
metrics) or asks the records by their user index, a bounded number at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from src.access import Access
from src.memory.facts import KIND as FACT_KIND
from src.memory.facts import Fact, from_record
from src.ops.metrics import ToolStats, tool_stats
from src.scheduler.entries import Entries, Entry
from src.store.records import RecordStore
from src.tools.registry import ToolRegistry

MAX_FACTS_SHOWN = 200


@dataclass(frozen=True)
class ToolRow:
    name: str
    stats: ToolStats
    asks_first: bool = False


@dataclass(frozen=True)
class ServerRow:
    name: str
    transport: str
    state: str
    error: str | None
    tools: list[ToolRow]


@dataclass(frozen=True)
class ToolsView:
    servers: list[ServerRow]
    other: list[ToolRow]  # built-in and plain HTTP tools


@dataclass(frozen=True)
class AddedUser:
    user_id: int
    by: int | None
    at: float | None
    name: str = ""


@dataclass(frozen=True)
class AccessView:
    admins: list[int]
    config_users: list[int]
    added: list[AddedUser]


@dataclass
class UserEntries:
    user_id: int
    entries: list[Entry] = field(default_factory=list)


def tools_view(registry: ToolRegistry, manager: object | None) -> ToolsView:
    """The tool servers (an MCPManager, or None without mcp.yml servers), their tools and
    what the metrics counted for each since start-up."""
    stats = tool_stats()
    servers, owned = [], set()
    status = getattr(manager, "status", None)
    for server in status() if status is not None else []:
        tools = [
            ToolRow(name, stats.get(name, ToolStats()), name in server.asking)
            for name in server.tools
        ]
        owned.update(server.tools)
        servers.append(ServerRow(server.name, server.transport, server.state, server.error, tools))
    other = [
        ToolRow(name, stats.get(name, ToolStats()), bool(getattr(registry.get(name), "confirm", 0)))
        for name in registry.names()
        if name not in owned
    ]
    return ToolsView(servers, other)


def access_view(access: Access) -> AccessView:
    added = []
    for user_id, entry in sorted(access.added().items()):
        by, at, name = entry.get("by"), entry.get("at"), entry.get("name")
        added.append(
            AddedUser(
                user_id,
                by if isinstance(by, int) else None,
                float(at) if isinstance(at, int | float) else None,
                name if isinstance(name, str) else "",
            )
        )
    return AccessView(access.admins(), access.config_users(), added)


def known_users(access: Access) -> list[int]:
    """Everyone the bot knows by the allowlist: admins, config.yml's users, those added."""
    return sorted({*access.admins(), *access.config_users(), *access.added()})


async def scheduled(records: RecordStore, users: list[int], per_user: int) -> list[UserEntries]:
    """Each user's scheduled entries (those with any), at most `per_user` each."""
    entries = Entries(records, per_user)
    found = await asyncio.gather(*(entries.of_user(user) for user in users))
    return [UserEntries(user, list(mine)) for user, mine in zip(users, found, strict=True) if mine]


async def facts_of(records: RecordStore, user_id: int) -> list[Fact]:
    """A user's newest facts, at most MAX_FACTS_SHOWN."""
    found = await records.find(FACT_KIND, user_id=user_id, limit=MAX_FACTS_SHOWN)
    return [fact for fact in map(from_record, found) if fact is not None]
