"""Built-in tools that need no server."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from src.errors import ToolArgumentError
from src.tools.base import Tool


class CurrentTimeTool(Tool):
    name = "get_current_time"
    description = "Get the current date and time in an IANA time zone (e.g. Europe/Paris)."
    timeout_s = 5.0

    def __init__(self, default_timezone: str = "UTC") -> None:
        self.default_timezone = default_timezone
        self.parameters = {
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": f"IANA time zone name; default {default_timezone}",
                }
            },
            "additionalProperties": False,
        }

    async def execute(self, arguments: dict[str, Any]) -> str:
        zone_name = arguments.get("timezone") or self.default_timezone
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolArgumentError(f"unknown time zone {zone_name!r}") from None
        now = datetime.now(zone)
        return f"{now.isoformat(timespec='seconds')} ({zone_name}, {now:%A})"
