"""The names the model sees for MCP tools: `<server>__<tool>`, `[A-Za-z0-9_-]`, at most 64."""

from __future__ import annotations

import fnmatch
import hashlib
import re

from src.toolservers.config import ToolFilter

MAX_NAME = 64
SEPARATOR = "__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HASH_CHARS = 8


def model_tool_name(server: str, tool: str) -> str:
    """`<server>__<tool>`, other characters made `_`. A name over 64 characters is cut and ends
    with a short hash of the full name, so two long names that share a start stay distinct."""
    full = f"{server}{SEPARATOR}{tool}"
    safe = _UNSAFE.sub("_", full)
    if len(safe) <= MAX_NAME:
        return safe
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{safe[: MAX_NAME - _HASH_CHARS - 1]}_{digest}"


def is_included(tool: str, rules: ToolFilter) -> bool:
    """The server's own tool name against the server's `tools.include` / `tools.exclude` globs."""
    included = any(fnmatch.fnmatchcase(tool, glob) for glob in rules.include)
    return included and not any(fnmatch.fnmatchcase(tool, glob) for glob in rules.exclude)
