"""What a tool is: a name, a description, a JSON-schema for its arguments, and `execute`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from src.tools.outbox import OutgoingFile


@dataclass(frozen=True)
class ToolResult:
    content: str
    is_error: bool = False
    # Files for the user (src/tools/outbox.py): the registry hands them to the turn's outbox
    # and leaves a note in `content`; they never reach the model or the history.
    files: tuple[OutgoingFile, ...] = ()


class Tool(ABC):
    """A tool the model may call. `execute` raises ToolError with a message for the model."""

    name: str
    description: str
    parameters: dict[str, Any]
    timeout_s: float = 30.0
    confirm: bool = False  # the user approves each call first (mcp.yml confirm; src/approval/)

    @abstractmethod
    async def execute(self, arguments: dict[str, Any]) -> str | ToolResult: ...

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }
