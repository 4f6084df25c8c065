"""The built-in tools the model schedules with: schedule_message, list_scheduled,
cancel_scheduled (names and arguments are the contract in DESIGN.md). Whose entries they are
comes from the turn (src/tools/context.py), never from the model's arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from src.clock import SYSTEM_CLOCK, Clock
from src.config import SchedulerConfig
from src.errors import ToolArgumentError
from src.scheduler.entries import Entries, Entry, UserZones
from src.scheduler.timing import check_cron, first_run, in_words, local, zone
from src.tools.base import Tool
from src.tools.context import current_turn

MAX_TEXT = 2000


class _SchedulerTool(Tool):
    timeout_s = 10.0
    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }

    def __init__(
        self,
        entries: Entries,
        zones: UserZones,
        config: SchedulerConfig,
        wake: Callable[[], None],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.entries = entries
        self.zones = zones
        self.config = config
        self.wake = wake
        self.clock = clock
        self.parameters = self.SCHEMA

    def _user(self) -> tuple[int, str, str]:
        turn = current_turn()
        if turn.user_id is None or turn.chat_type in ("console", "scheduled"):
            raise ToolArgumentError("scheduling works in Telegram chats only")
        return turn.user_id, turn.conversation_id, turn.chat_type


class ScheduleMessage(_SchedulerTool):
    name = "schedule_message"
    description = (
        "Schedule a message to this chat: once (after delay_seconds, or at an ISO 8601 time; "
        "without an offset it is the user's time zone), optionally repeating by a five-field "
        "cron expression in the user's time zone. With task=true the text is a prompt run "
        "through a full assistant turn (with tools) when due, and its answer is sent. "
        "Returns the entry's id."
    )

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "What to send (or, for a task, do)"},
            "delay_seconds": {"type": "integer", "description": "Send after this many seconds"},
            "at": {"type": "string", "description": "ISO 8601 time, e.g. 2026-12-24T09:00"},
            "repeat": {"type": "string", "description": "Cron, e.g. '0 8 * * 1-5'"},
            "task": {"type": "boolean", "description": "Run text as a prompt when due"},
        },
        "required": ["text"],
        "additionalProperties": False,
    }

    async def execute(self, arguments: dict[str, Any]) -> str:
        user_id, conversation_id, chat_type = self._user()
        text = str(arguments.get("text") or "").strip()
        if not text:
            raise ToolArgumentError("text must not be empty")
        if len(text) > MAX_TEXT:
            raise ToolArgumentError(f"text is longer than {MAX_TEXT} characters")
        zone_name = await self.zones.get(user_id)
        tz, now = zone(zone_name), self.clock.time()
        repeat = arguments.get("repeat")
        if repeat is not None:
            repeat = str(repeat).strip()
            check_cron(repeat, tz, self.config.min_interval_s, now)
        due = first_run(now, tz, arguments.get("delay_seconds"), arguments.get("at"), repeat)
        entry = await self.entries.create(
            Entry(
                id="",
                user_id=user_id,
                conversation_id=conversation_id,
                text=text,
                zone=zone_name,
                due_at=due,
                created_at=now,
                task=bool(arguments.get("task")),
                cron=repeat,
                meta={"chat_type": chat_type},
            )
        )
        self.wake()
        repeats = f", then repeating '{repeat}'" if repeat else ""
        return (
            f"Scheduled {entry.id}: first at {local(due, tz)}, in {in_words(due - now)}{repeats}."
        )


class ListScheduled(_SchedulerTool):
    name = "list_scheduled"
    description = "List the user's scheduled messages and tasks with their ids and next times."

    async def execute(self, arguments: dict[str, Any]) -> str:
        user_id, _, _ = self._user()
        entries = await self.entries.of_user(user_id)
        if not entries:
            return "No scheduled entries."
        return "\n".join(describe(entry) for entry in sorted(entries, key=_order))


class CancelScheduled(_SchedulerTool):
    name = "cancel_scheduled"
    description = "Cancel one of the user's scheduled entries by its id."
    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "The entry's id"}},
        "required": ["id"],
        "additionalProperties": False,
    }

    async def execute(self, arguments: dict[str, Any]) -> str:
        user_id, _, _ = self._user()
        entry = await self.entries.cancel(str(arguments.get("id") or ""), user_id)
        if entry is None:
            raise ToolArgumentError("no scheduled entry of this user has that id")
        self.wake()
        return f"Cancelled {entry.id}."


def describe(entry: Entry) -> str:
    kind = "task" if entry.task else "message"
    when = "disabled" if entry.due_at is None else local(entry.due_at, zone(entry.zone))
    repeat = f", repeats '{entry.cron}'" if entry.cron else ""
    return f"{entry.id}: {kind} {entry.text[:80]!r}, next {when}{repeat}"


def _order(entry: Entry) -> float:
    return entry.due_at if entry.due_at is not None else float("inf")


def scheduler_tools(
    entries: Entries,
    zones: UserZones,
    config: SchedulerConfig,
    wake: Callable[[], None],
    clock: Clock = SYSTEM_CLOCK,
) -> list[Tool]:
    return [
        tool(entries, zones, config, wake, clock)
        for tool in (ScheduleMessage, ListScheduled, CancelScheduled)
    ]
