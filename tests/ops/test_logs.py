"""Logs: one line per event, text or JSON; no message text or tool arguments below DEBUG;
no secret ever, at any level, from any logger (libraries included).

The bot runs in this process against the local peers, with logging set up by the same
`setup_logging` call the process makes, writing to a buffer instead of stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from src.channels.telegram.service import TelegramService
from src.config import load_config
from src.ops.logging_setup import JsonFormatter, TextFormatter, setup_logging
from src.toolservers.config import load_mcp_config
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import FakeOpenAI, Reply
from tests.peers.serve import wait_until
from tests.peers.telegram_server import FakeTelegram

BOT_TOKEN = "7654321:AAH-bot-token-that-must-never-be-logged"
API_KEY = "sk-api-key-that-must-never-be-logged"
MCP_HEADER = "mcp-header-value-that-must-never-be-logged"

USER_TEXT = "my private diary entry about the aardvark"
GOOD_ZONE = "Pacific/Chatham"
BAD_ZONE = "Atlantis/Sunken_City"
ANSWER = "The okapi answer"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = list(logging.root.manager.loggerDict)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in logging.root.manager.loggerDict:
        logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


@dataclass
class Peers:
    telegram: FakeTelegram
    model: FakeOpenAI
    runner: BotRunner


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    model = FakeOpenAI(api_key=API_KEY)
    model.start()
    try:
        with FakeTelegram(token=BOT_TOKEN) as telegram:
            runner = BotRunner(tmp_path, telegram, model)
            yield Peers(telegram, model, runner)
    finally:
        model.stop()


@pytest.fixture
async def turn(peers: Peers, tmp_path: Path, restore_logging: None) -> AsyncIterator[object]:
    """`await turn(level, fmt)`: start the bot with that logging, run one turn with two tool
    calls (one with bad arguments), stop the bot; returns everything that was logged."""
    tasks: list[asyncio.Task[int]] = []
    stops: list[asyncio.Event] = []

    async def run(level: str, fmt: str) -> str:
        buffer = io.StringIO()
        setup_logging(level, fmt, buffer)
        env = {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "OPENAI_API_KEY": API_KEY, "MCP_TOKEN": MCP_HEADER}
        config_path = peers.runner.write_config(
            telegram={"bot_token": "${TELEGRAM_BOT_TOKEN}"},
            llm={"api_key": "${OPENAI_API_KEY}"},
        )
        mcp_path = tmp_path / "mcp.yml"
        mcp_path.write_text(
            yaml.safe_dump(
                {
                    "mcpServers": {
                        "remote": {
                            "url": "http://127.0.0.1:9/mcp",  # nothing listens there
                            "headers": {"Authorization": "Bearer ${MCP_TOKEN}"},
                        }
                    }
                }
            )
        )
        config = load_config(config_path, env=env)
        mcp = load_mcp_config(mcp_path, env=env)
        assert mcp.mcpServers["remote"].headers["Authorization"] == f"Bearer {MCP_HEADER}"
        service = TelegramService(config, mcp, str(config_path))
        stop = asyncio.Event()
        stops.append(stop)
        before = len(peers.telegram.get_updates_calls())
        task = asyncio.create_task(service.run(stop))
        tasks.append(task)
        await wait_until(lambda: len(peers.telegram.get_updates_calls()) > before or task.done())
        assert not task.done(), buffer.getvalue()
        peers.model.enqueue(
            Reply.tool("get_current_time", timezone=GOOD_ZONE),
            Reply.tool("get_current_time", timezone=BAD_ZONE),
            Reply(text=ANSWER),
        )
        peers.telegram.push_message(OWNER, USER_TEXT)
        sent = await peers.telegram.wait_for_messages(OWNER, 1)
        assert sent[0]["text"] == ANSWER
        stop.set()
        assert await asyncio.wait_for(task, 15) == 0
        return buffer.getvalue()

    yield run
    for stop in stops:
        stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_secrets_never_appear_even_at_debug(turn: object, fmt: str) -> None:
    output = await turn("DEBUG", fmt)  # type: ignore[operator]
    assert GOOD_ZONE in output  # DEBUG does carry tool arguments
    assert BOT_TOKEN not in output
    assert BOT_TOKEN.split(":", 1)[1] not in output  # nor the secret half of it
    assert API_KEY not in output
    assert MCP_HEADER not in output  # mcp.yml header values (the config as loaded today)
    if fmt == "json":
        for line in output.splitlines():
            record = json.loads(line)  # one JSON object per line, nothing else
            assert {"time", "level", "logger", "message"} <= set(record)


async def test_info_logs_no_message_text_nor_tool_arguments(turn: object) -> None:
    output = await turn("INFO", "text")  # type: ignore[operator]
    assert "turn with agent" in output  # the turn was logged...
    assert "tool get_current_time: ToolArgumentError" in output  # ...and the bad call
    for private in (USER_TEXT, "aardvark", GOOD_ZONE, BAD_ZONE, "Atlantis", ANSWER, "okapi"):
        assert private not in output, private
    for secret in (BOT_TOKEN, API_KEY, MCP_HEADER):
        assert secret not in output


def test_libraries_that_log_urls_stay_quiet(restore_logging: None) -> None:
    setup_logging("DEBUG", "text", io.StringIO())
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp.access"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    for name in ("telegram", "telegram.Bot", "telegram.ext.ExtBot", "openai"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO, name
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("src.agents").getEffectiveLevel() == logging.DEBUG
    setup_logging("ERROR", "text", io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.ERROR


async def test_a_plain_telegram_bot_does_not_log_its_token_at_debug(
    restore_logging: None,
) -> None:
    """telegram.Bot (not the Application's ExtBot) logs its URL, token included, at DEBUG."""
    from telegram import Bot

    buffer = io.StringIO()
    setup_logging("DEBUG", "text", buffer)
    Bot(BOT_TOKEN, base_url="http://127.0.0.1:9/bot")
    assert BOT_TOKEN not in buffer.getvalue()
    logging.getLogger("telegram.Bot").setLevel(logging.DEBUG)  # without the floor it would
    Bot(BOT_TOKEN, base_url="http://127.0.0.1:9/bot")
    assert BOT_TOKEN in buffer.getvalue()


def _record_with_traceback(message: str, *args: object) -> logging.LogRecord:
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        info = sys.exc_info()
    return logging.getLogger("src.test").makeRecord(
        "src.test", logging.ERROR, __file__, 1, message, args, exc_info=info
    )


def test_text_format_is_one_line_per_event() -> None:
    record = _record_with_traceback("conversation %s: failed\nsecond line", "42")
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert "ERROR src.test: conversation 42: failed\\nsecond line" in line
    assert "Traceback (most recent call last):\\n" in line and "ValueError: broken\\nacross" in line


def test_json_format_is_one_object_per_line() -> None:
    record = _record_with_traceback("conversation 42: failed")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "src.test"
    assert data["message"] == "conversation 42: failed"
    assert data["exception"].startswith("Traceback") and "ValueError" in data["exception"]
    assert data["time"].endswith("Z")
