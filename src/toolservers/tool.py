"""An MCP server's tool as a `Tool` the registry can offer to the model."""

from __future__ import annotations

import asyncio
from typing import Any

from src.tools.base import Tool, ToolResult
from src.toolservers.connection import ListedTool, MCPConnection
from src.toolservers.results import binary_chars, to_tool_result

_DECODE_IN_THREAD = 256 * 1024  # base64 characters


class MCPTool(Tool):
    def __init__(self, name: str, connection: MCPConnection, listed: ListedTool) -> None:
        self.name = name
        self.server = connection.name
        self.tool = listed.name
        self.description = listed.description or f"The {listed.name} tool of {connection.name}."
        self.parameters = model_schema(listed.input_schema)
        self.timeout_s = connection.config.timeout
        self.confirm = connection.config.asks_first(listed.name, listed.destructive)
        self._connection = connection

    async def execute(self, arguments: dict[str, Any]) -> ToolResult:
        result = await self._connection.call(self.tool, arguments)
        cap = self._connection.config.max_result_chars
        if binary_chars(result) > _DECODE_IN_THREAD:  # files to decode: off the event loop
            return await asyncio.to_thread(to_tool_result, result, cap)
        return to_tool_result(result, cap)


def model_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema as a function's `parameters`: an object schema without `$schema`
    (some OpenAI-compatible endpoints reject it; arguments are checked as draft 2020-12)."""
    schema = {key: value for key, value in input_schema.items() if key != "$schema"}
    schema.setdefault("type", "object")
    if schema["type"] == "object":
        schema.setdefault("properties", {})
    return schema


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why a tool's schema cannot be offered to the model (a bad schema would make the model
    endpoint refuse every request), or None."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema.get("type") != "object":
        return "its input schema is not an object schema"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"its input schema is invalid ({exc.message[:200]})"
    return None
