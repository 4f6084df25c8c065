"""`python telegram_bot.py` as a real process: exit codes, crashes, signals, console, --check."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from src.channels.telegram import texts
from tests.harness import OWNER, ROOT, BotRunner, free_port
from tests.peers.openai_server import Reply, validate_chat_request

pytestmark = pytest.mark.slow


def run_bot(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "telegram_bot.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("llm:\n  model: gpt-4o-mini\n", "llm.api_key: field required"),
        (
            "llm:\n  api_key: k\ntelegram:\n  poll_timeout_s: soon\n",
            "telegram.poll_timeout_s: input should be a valid integer",
        ),
        ("llm:\n  api_key: k\n  modle: typo\n", "llm.modle: unknown key"),
        (
            "llm:\n  api_key: ${OPENAI_API_KEY}\n",
            "llm.api_key: environment variable OPENAI_API_KEY is not set",
        ),
        ("llm: [unclosed\n", "line 2"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / "bad.yml").write_text(body)
    result = run_bot(["--config", "bad.yml"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bad.yml: ") and expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_token_says_what_to_set(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("llm:\n  api_key: k\n")
    result = run_bot([], tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "--console" in result.stderr


def test_console_answers_and_keeps_history(bots: BotRunner, tmp_path: Path) -> None:
    config = bots.write_config(telegram={"bot_token": ""})
    result = run_bot(
        ["--console", "--config", str(config)], tmp_path, bots.env, stdin="hello console\nagain\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["echo: hello console", "echo: again"]
    stored = (bots.data_dir).glob("console-*.jsonl")
    assert len(list(stored)) == 1


def test_check_reports_and_sets_the_exit_code(bots: BotRunner, tmp_path: Path) -> None:
    good = run_bot(["--check", "--config", str(bots.write_config())], tmp_path, bots.env)
    assert good.returncode == 0, good.stdout
    assert "all checks passed" in good.stdout
    down = f"http://127.0.0.1:{free_port()}/v1"
    bad = run_bot(
        ["--check", "--config", str(bots.write_config(llm={"base_url": down}))], tmp_path, bots.env
    )
    assert bad.returncode == 1
    assert "FAIL  model" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr


def _assert_valid_history(messages: list[dict[str, object]]) -> None:
    validate_chat_request({"model": "m", "messages": messages}, strict_keys=True)


async def test_sigkill_mid_turn_is_answered_once_after_restart(bots: BotRunner) -> None:
    bots.model.enqueue(Reply.tool("get_current_time"), Reply(hang=True))
    first = bots.spawn()
    first.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "what time is it?")
    await bots.model.wait_for_requests(2, timeout=15)  # the tool ran; the model is thinking
    first.process.send_signal(signal.SIGKILL)
    first.wait()

    calls = len(bots.telegram.get_updates_calls())
    second = bots.spawn()
    second.wait_polling(bots.telegram, after=calls)
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=15)
    assert sent[0]["text"] == "echo: what time is it?"
    await asyncio.sleep(1.0)
    assert len(bots.telegram.sent_messages(OWNER)) == 1
    history = await bots.history(str(OWNER))
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]
    _assert_valid_history([m.to_api() for m in history])
    assert not bots.model.invalid_requests
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


async def test_sigkill_before_the_turn_starts_still_answers(bots: BotRunner) -> None:
    bots.model.enqueue(Reply(hang=True))
    first = bots.spawn()
    first.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "first")
    bots.telegram.push_message(OWNER, "second")  # queued behind the hanging turn
    await bots.model.wait_for_requests(1, timeout=15)
    first.process.send_signal(signal.SIGKILL)
    first.wait()

    second = bots.spawn()
    second.wait_polling(bots.telegram)
    sent = await bots.telegram.wait_for_messages(OWNER, 2, timeout=15)
    assert [m["text"] for m in sent] == ["echo: first", "echo: second"]
    history = await bots.history(str(OWNER))
    assert [m.content for m in history] == ["first", "echo: first", "second", "echo: second"]
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


async def test_sigterm_finishes_the_running_turn_and_exits_0(bots: BotRunner) -> None:
    bots.model.enqueue(Reply(text="done in time", delay_s=1.0))
    process = bots.spawn()
    process.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "slow one")
    await bots.model.wait_for_requests(1, timeout=15)
    process.signal(signal.SIGTERM)
    # The turn was running when the signal came; it is answered, then the process exits 0.
    # (The 10 s bound is the shutdown grace period, shown by the hung turn below; 30 s here
    # only stops a hung test.)
    assert process.wait(timeout=30) == 0
    assert [m["text"] for m in bots.telegram.sent_messages(OWNER)] == ["done in time"]
    assert "Traceback" not in process.log


async def test_sigterm_abandons_a_hung_turn_cleanly(bots: BotRunner) -> None:
    bots.model.enqueue(Reply(hang=True))
    process = bots.spawn(llm={"timeout_s": 60})  # still waiting when the grace period ends
    process.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "never answered in time")
    await bots.model.wait_for_requests(1, timeout=15)
    process.signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0  # 30 s only stops a hung test
    assert "1 turn(s) cut off by shutdown" in process.log  # the grace period ended it
    assert bots.telegram.sent_messages(OWNER) == []
    store = bots.store()
    assert await store.owed() == [str(OWNER)]  # owed, answered after restart
    again = bots.spawn()
    again.wait_polling(bots.telegram)
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=15)
    assert sent[0]["text"] == "echo: never answered in time"
    assert texts.FAILED not in process.log
    again.signal(signal.SIGTERM)
    assert again.wait() == 0


def test_console_answers_coordinator_commands(bots: BotRunner, tmp_path: Path) -> None:
    config = bots.write_config(telegram={"bot_token": ""})
    result = run_bot(
        ["--console", "--config", str(config)],
        tmp_path,
        bots.env,
        stdin="hello\n/usage\n/agent nobody\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "echo: hello"
    assert any("test-model" in line for line in lines[1:])  # /usage names the model used
    assert "Traceback" not in result.stdout + result.stderr
    assert bots.model.request_count == 1  # commands cost no model tokens
