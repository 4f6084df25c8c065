"""A tool call's arguments as the approval question shows them, and their digest for the audit.

Values under secret-looking keys (token, password, secret, api_key, authorization, ...) and
values that look like credentials ("Bearer ...") are masked at any depth; long values are cut,
and so is the whole text, so the question always fits one Telegram message.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MASK = "••••••"
MAX_VALUE_CHARS = 300
MAX_TEXT_CHARS = 2000
SECRET_KEY = re.compile(
    r"token|passw|secret|api[_-]?key|authori[sz]ation|credential|private[_-]?key|cookie"
    r"|session[_-]?id|access[_-]?key",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(r"^\s*(bearer|basic|token)\s+\S", re.IGNORECASE)


def arguments_text(raw: str) -> str:
    """The arguments as `key: value` lines (nested values as JSON), masked and cut."""
    try:
        arguments = json.loads(raw or "{}")
    except ValueError:
        return cut(raw, MAX_TEXT_CHARS)  # the registry refuses these before anyone is asked
    shown = masked(arguments)
    if not isinstance(shown, dict):
        return cut(_value(shown), MAX_TEXT_CHARS)
    if not shown:
        return "(no arguments)"
    lines = [f"{key}: {_value(value)}" for key, value in shown.items()]
    return cut("\n".join(lines), MAX_TEXT_CHARS)


def masked(value: Any) -> Any:
    """A copy of `value` with secret-looking entries replaced by MASK."""
    if isinstance(value, dict):
        return {
            key: MASK if _secret_key(key, item) else masked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str) and SECRET_VALUE.match(value):
        return MASK
    return value


def digest(raw: str) -> str:
    """sha256 of the arguments: of their canonical JSON when they parse, else of the text."""
    try:
        text = json.dumps(
            json.loads(raw or "{}"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except ValueError:
        text = raw
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def _secret_key(key: object, value: object) -> bool:
    return bool(SECRET_KEY.search(str(key))) and value not in (None, "")


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return cut(text, MAX_VALUE_CHARS)
