"""ToolRegistry: names, schemas, argument checks, failures as results; get_current_time."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime
from typing import Any

import pytest

from src.errors import ToolError
from src.tools.base import Tool, ToolResult
from src.tools.builtin import CurrentTimeTool
from src.tools.registry import ToolRegistry

ECHO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "times": {"type": "integer", "minimum": 1},
        "options": {
            "type": "object",
            "properties": {"loud": {"type": "boolean"}},
            "additionalProperties": False,
        },
    },
    "required": ["text"],
    "additionalProperties": False,
}


class Echo(Tool):
    description = "Echo the text back."

    def __init__(self, name: str = "echo") -> None:
        self.name = name
        self.parameters = ECHO_SCHEMA
        self.calls: list[dict[str, Any]] = []

    async def execute(self, arguments: dict[str, Any]) -> str:
        self.calls.append(arguments)
        text = arguments["text"] * arguments.get("times", 1)
        return text.upper() if arguments.get("options", {}).get("loud") else text


class AnyArguments(Tool):
    def __init__(self) -> None:
        self.parameters = {"type": "object"}


class Broken(AnyArguments):
    name = "broken"
    description = "Always fails."

    async def execute(self, arguments: dict[str, Any]) -> str:
        raise KeyError("secret internal detail /etc/shadow")


class Refusing(AnyArguments):
    name = "refusing"
    description = "Fails the way tools should."

    async def execute(self, arguments: dict[str, Any]) -> str:
        raise ToolError("the city is unknown")


class Slow(AnyArguments):
    name = "slow"
    description = "Sleeps past its timeout."
    timeout_s = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    async def execute(self, arguments: dict[str, Any]) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return "never"


class Structured(AnyArguments):
    name = "structured"
    description = "Returns a ToolResult."

    async def execute(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult("remote said no", is_error=True)


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry(max_result_chars=100)
    for tool in (Echo(), Broken(), Refusing(), Slow(), Structured(), CurrentTimeTool("UTC")):
        registry.register(tool)
    return registry


# -- registration and schemas -------------------------------------------------------------


def test_duplicate_names_are_rejected(registry: ToolRegistry) -> None:
    with pytest.raises(ToolError, match="duplicate tool name 'echo'"):
        registry.register(Echo())


@pytest.mark.parametrize(
    "name", ["", "has space", "dot.name", "slash/name", "ünïcode", "x" * 65, "semi;colon"]
)
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(ToolError, match="invalid tool name"):
        ToolRegistry().register(Echo(name))


def test_valid_names_at_the_limits() -> None:
    registry = ToolRegistry()
    for name in ("a", "x" * 64, "mcp_server-tool_2"):
        registry.register(Echo(name))
    assert registry.names() == sorted(["a", "x" * 64, "mcp_server-tool_2"])


def test_schemas_are_filtered_by_globs(registry: ToolRegistry) -> None:
    registry.register(Echo("mcp_files_read"))
    registry.register(Echo("mcp_files_write"))

    def names(patterns: tuple[str, ...]) -> list[str]:
        return [s["function"]["name"] for s in registry.schemas(patterns)]

    everything = names(("*",))
    assert everything == registry.names()
    assert names(("mcp_files_*",)) == ["mcp_files_read", "mcp_files_write"]
    assert names(("echo", "*_read")) == ["echo", "mcp_files_read"]
    assert names(("get_current_tim?",)) == ["get_current_time"]
    assert names(("ECHO",)) == []  # case-sensitive
    assert names(()) == []
    schema = registry.schemas(("echo",))[0]
    assert schema == {
        "type": "function",
        "function": {
            "name": "echo",
            "description": Echo.description,
            "parameters": ECHO_SCHEMA,
        },
    }


def test_unregister(registry: ToolRegistry) -> None:
    registry.unregister("echo")
    registry.unregister("never-there")
    assert registry.get("echo") is None
    registry.register(Echo())


# -- execute ------------------------------------------------------------------------------


async def test_a_good_call_returns_the_result(registry: ToolRegistry) -> None:
    result = await registry.execute("echo", '{"text": "ab", "times": 2}')
    assert result == ToolResult("abab")
    assert await registry.execute("echo", '{"text": "x", "options": {"loud": true}}') == ToolResult(
        "X"
    )
    assert await registry.execute("structured", "") == ToolResult("remote said no", True)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{", "not valid JSON"),
        ("{'text': 'single quotes'}", "not valid JSON"),
        ("NaN-ish nonsense", "not valid JSON"),
        ('["text"]', "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("42", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{}", "arguments: 'text' is a required property"),
        ('{"text": 5}', "text: 5 is not of type 'string'"),
        ('{"text": "a", "times": 0}', "times: 0 is less than the minimum of 1"),
        ('{"text": "a", "extra": 1}', "Additional properties are not allowed ('extra'"),
        ('{"text": "a", "options": {"loud": "yes"}}', "options.loud: 'yes' is not of type"),
    ],
)
async def test_bad_arguments_become_error_results(
    registry: ToolRegistry, arguments: str, expected: str
) -> None:
    echo = registry.get("echo")
    assert isinstance(echo, Echo)
    result = await registry.execute("echo", arguments)
    assert result.is_error
    assert result.content.startswith("Error: ")
    assert expected in result.content
    assert echo.calls == []  # the tool never ran


async def test_a_tool_error_reaches_the_model(registry: ToolRegistry) -> None:
    assert await registry.execute("refusing", "{}") == ToolResult(
        "Error: the city is unknown", is_error=True
    )


async def test_an_unexpected_exception_becomes_a_short_error(
    registry: ToolRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="src.tools.registry"):
        result = await registry.execute("broken", "{}")
    assert result == ToolResult("Error: the tool broken failed unexpectedly.", is_error=True)
    assert "secret" not in result.content
    assert "secret internal detail" in caplog.text  # the log has the traceback


async def test_a_tool_past_its_timeout_becomes_an_error(registry: ToolRegistry) -> None:
    slow = registry.get("slow")
    assert isinstance(slow, Slow)
    result = await registry.execute("slow", "{}")
    assert result == ToolResult("Error: the tool slow did not finish in time.", is_error=True)
    assert slow.cancelled


async def test_long_results_are_cut_with_a_note(registry: ToolRegistry) -> None:
    exact = await registry.execute("echo", '{"text": "x", "times": 100}')
    assert exact == ToolResult("x" * 100)
    long = await registry.execute("echo", '{"text": "é", "times": 250}')
    assert not long.is_error
    assert long.content == "é" * 100 + "\n[... 150 more characters cut]"


@pytest.mark.parametrize(
    ("name", "patterns"),
    [("nope", ("*",)), ("echo", ("get_*",)), ("echo", ()), ("", ("*",)), ("../echo", ("*",))],
)
async def test_unknown_or_disallowed_tools_are_not_found(
    registry: ToolRegistry, name: str, patterns: tuple[str, ...]
) -> None:
    echo = registry.get("echo")
    assert isinstance(echo, Echo)
    result = await registry.execute(name, '{"text": "a"}', patterns)
    assert result == ToolResult(f"Error: there is no tool named {name!r}", is_error=True)
    assert echo.calls == []


# -- get_current_time -----------------------------------------------------------------------

ISO = re.compile(r"^(\S+) \((.+), (\w+day)\)$")


def parse_time(content: str) -> tuple[datetime, str, str]:
    match = ISO.match(content)
    assert match, content
    return datetime.fromisoformat(match[1]), match[2], match[3]


async def test_current_time_in_the_default_zone() -> None:
    registry = ToolRegistry()
    registry.register(CurrentTimeTool("Europe/Paris"))
    for arguments in ("{}", "", '{"timezone": ""}'):
        result = await registry.execute("get_current_time", arguments)
        assert not result.is_error, result
        when, zone, weekday = parse_time(result.content)
        assert zone == "Europe/Paris"
        assert when.utcoffset() is not None
        assert weekday == f"{when:%A}"


async def test_current_time_in_an_explicit_zone(registry: ToolRegistry) -> None:
    result = await registry.execute("get_current_time", '{"timezone": "Asia/Kolkata"}')
    assert not result.is_error, result
    when, zone, _ = parse_time(result.content)
    assert zone == "Asia/Kolkata"
    assert when.isoformat().endswith("+05:30")

    result = await registry.execute("get_current_time", "{}")
    assert parse_time(result.content)[0].isoformat().endswith("+00:00")


@pytest.mark.parametrize(
    "zone", ["../../etc/passwd", "/etc/localtime", "Not/AZone", "Europe/../UTC", "a\x00b", "."]
)
async def test_current_time_refuses_a_bad_zone(registry: ToolRegistry, zone: str) -> None:
    result = await registry.execute("get_current_time", json.dumps({"timezone": zone}))
    assert result.is_error
    assert "unknown time zone" in result.content


async def test_current_time_rejects_other_arguments(registry: ToolRegistry) -> None:
    result = await registry.execute("get_current_time", '{"tz": "UTC"}')
    assert result.is_error
    assert "Additional properties" in result.content
