"""ToolRegistry: the tools the model may call, their schemas, argument checks and results.

`execute` never raises: whatever goes wrong becomes an error result the model can read.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from src.errors import ToolArgumentError, ToolError, ToolNotFoundError
from src.ops import metrics
from src.tools.base import Tool, ToolResult
from src.tools.context import turn_or_none
from src.tools.outbox import OutgoingFile, not_deliverable

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolRegistry:
    def __init__(self, max_result_chars: int = 16000) -> None:
        self.max_result_chars = max_result_chars
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Any] = {}

    def register(self, tool: Tool) -> None:
        if not _NAME.match(tool.name):
            raise ToolError(f"invalid tool name {tool.name!r}: use [A-Za-z0-9_-], at most 64")
        if tool.name in self._tools:
            raise ToolError(f"duplicate tool name {tool.name!r}")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)
        self._validators.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def allowed(self, patterns: Iterable[str]) -> list[str]:
        """Names matching any of the glob patterns."""
        globs = list(patterns)
        return [n for n in self.names() if any(fnmatch.fnmatchcase(n, g) for g in globs)]

    def schemas(self, patterns: Iterable[str] = ("*",)) -> list[dict[str, Any]]:
        return [self._tools[name].schema() for name in self.allowed(patterns)]

    async def execute(
        self, name: str, arguments: str, patterns: Iterable[str] = ("*",)
    ) -> ToolResult:
        label = name if name in self._tools else metrics.UNKNOWN_TOOL
        logger.debug("tool %s called with %s", label, arguments)
        started = time.perf_counter()

        def record(outcome: str) -> None:
            metrics.record_tool_call(label, outcome, time.perf_counter() - started)

        try:
            tool = self._lookup(name, patterns)
            args = self._parse(tool, arguments)
            async with asyncio.timeout(tool.timeout_s):
                raw = await tool.execute(args)
        except ToolError as exc:
            # The message may quote the arguments: only DEBUG logs may carry them.
            logger.info("tool %s: %s", label, type(exc).__name__)
            logger.debug("tool %s: %s", label, exc)
            record(_outcome(exc))
            return ToolResult(f"Error: {exc}", is_error=True)
        except TimeoutError:
            logger.warning("tool %s timed out", name)
            record(metrics.TOOL_TIMEOUT)
            return ToolResult(f"Error: the tool {name} did not finish in time.", is_error=True)
        except Exception:
            logger.exception("tool %s failed", name)
            record(metrics.TOOL_CRASHED)
            return ToolResult(f"Error: the tool {name} failed unexpectedly.", is_error=True)
        result = raw if isinstance(raw, ToolResult) else ToolResult(str(raw))
        outcome = metrics.TOOL_ERROR if result.is_error else metrics.TOOL_OK
        record(outcome)
        return _deliver(self._cap(result), result.files)

    def refusal(self, name: str, arguments: str, patterns: Iterable[str] = ("*",)) -> str | None:
        """Why `execute` would refuse this call before running it (no such tool, arguments
        that do not fit), or None. Asked before a user is asked to approve the call."""
        try:
            self._parse(self._lookup(name, patterns), arguments)
        except ToolError as exc:
            return str(exc)
        return None

    def _lookup(self, name: str, patterns: Iterable[str]) -> Tool:
        tool = self._tools.get(name)
        if tool is None or name not in self.allowed(patterns):
            raise ToolNotFoundError(f"there is no tool named {name!r}")
        return tool

    def _parse(self, tool: Tool, arguments: str) -> dict[str, Any]:
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            raise ToolArgumentError("the arguments are not valid JSON") from None
        if not isinstance(args, dict):
            raise ToolArgumentError("the arguments must be a JSON object")
        validator = self._validators.get(tool.name)
        if validator is None:
            from jsonschema import Draft202012Validator

            validator = Draft202012Validator(tool.parameters or {"type": "object"})
            self._validators[tool.name] = validator
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.path) or "arguments"
            raise ToolArgumentError(f"invalid arguments for {tool.name}: {where}: {first.message}")
        return args

    def _cap(self, result: ToolResult) -> ToolResult:
        if len(result.content) <= self.max_result_chars:
            return result
        cut = len(result.content) - self.max_result_chars
        text = result.content[: self.max_result_chars]
        return ToolResult(f"{text}\n[... {cut} more characters cut]", result.is_error)


def _deliver(result: ToolResult, files: tuple[OutgoingFile, ...]) -> ToolResult:
    """The result for the model: each file handed to the turn's outbox, and a note about it
    where its bytes would have been."""
    if not files:
        return result
    turn = turn_or_none()
    outbox = turn.outbox if turn is not None else None
    notes = [outbox.offer(f) if outbox is not None else not_deliverable(f) for f in files]
    content = "\n".join(part for part in (result.content, *notes) if part)
    return ToolResult(content, result.is_error)


def _outcome(error: ToolError) -> str:
    if isinstance(error, ToolNotFoundError):
        return metrics.TOOL_NOT_FOUND
    if isinstance(error, ToolArgumentError):
        return metrics.TOOL_INVALID_ARGUMENTS
    return metrics.TOOL_ERROR
