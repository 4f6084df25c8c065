"""Logging: one line per event on stdout, text or JSON; noisy libraries kept quiet.

What may be logged where: message text and tool arguments only at DEBUG; secrets (bot
token, API keys, MCP header values) never. httpx puts request URLs, which hold the bot token,
in its INFO and DEBUG lines, so it stays at WARNING whatever LOG_LEVEL says, and so on (_QUIET).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

# Floors: these loggers never go below the given level, even with LOG_LEVEL=DEBUG.
# python-telegram-bot's Bot logs its API URL, token included, at DEBUG.
_QUIET = {
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpcore2": logging.WARNING,
    "hpack": logging.WARNING,
    "telegram": logging.INFO,
    "aiohttp.access": logging.WARNING,
    "openai": logging.INFO,
    "botocore": logging.WARNING,
    "boto3": logging.WARNING,
    "urllib3": logging.WARNING,
    "mcp": logging.INFO,
    "mcp.client.streamable_http": logging.WARNING,  # logs the MCP session id at INFO
}

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _one_line(text: str) -> str:
    """Newlines escaped, so a traceback or a user's multi-line text stays one log line."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, one line; an exception follows on the same line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return _one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Route every logger (libraries included) to one handler on `stream` (stdout)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
