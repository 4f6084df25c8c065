"""The console channel tells failures apart exactly as Telegram does (the same texts)."""

from __future__ import annotations

import io
from pathlib import Path

from src.channels.console import run_console
from src.channels.telegram import texts
from tests.direct import direct
from tests.peers.openai_server import FakeOpenAI, Reply


async def test_console_failures_blank_lines_and_recovery(tmp_path: Path, model: FakeOpenAI) -> None:
    lines = ["\u200b\u3000", "one", "two", "three", "four"]
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    out = io.StringIO()
    model.enqueue(
        Reply.error(400, "flagged", code="content_policy_violation"),
        Reply.error(429),
        Reply.error(401),
    )
    async with direct(tmp_path, model) as bot:
        await run_console(bot.coordinator, stdin, out)
    assert [line for line in out.getvalue().splitlines() if line] == [
        texts.EMPTY_MESSAGE,
        texts.CONTENT_REFUSED,
        texts.MODEL_BUSY,
        texts.MODEL_AUTH,
        "echo: four",
    ]
    assert model.request_count == 4  # none for the blank line
    users = [m["content"] for m in model.last_request()["messages"] if m["role"] == "user"]
    assert users == ["two", "three", "four"]  # the refused turn is left out
