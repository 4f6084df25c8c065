"""Webhook mode with the local queue (one process): Telegram (the local fake) POSTs each
update to the bot's health server with the secret header; the same handlers store it in the
inbox before the answer is 200."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from src.channels.telegram import webhook as webhook_module
from tests.harness import OWNER, ROOT, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until
from tests.storeview import records_locked

SECRET = "s3cret-token_42"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook(bots: BotRunner, url: str | None = None, secret: str = SECRET) -> dict[str, Any]:
    """Config overrides for webhook mode on the bot's own health port (no proxy)."""
    hook = url if url is not None else f"http://127.0.0.1:{bots.health_port}/telegram/webhook"
    return {"mode": "webhook", "webhook": {"url": hook, "secret_token": secret}}


async def post(url: str, body: Any, secret: str | None) -> int:
    headers = {HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=headers) as response:
            return response.status


async def test_updates_arrive_by_webhook_and_are_answered_in_order(bots: BotRunner) -> None:
    await bots.start(telegram=webhook(bots))
    [call] = bots.telegram.calls("setWebhook")
    assert call.params["url"] == f"http://127.0.0.1:{bots.health_port}/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["drop_pending_updates"] is False
    assert set(call.params["allowed_updates"]) >= {"message", "callback_query"}

    ids = [bots.telegram.push_message(OWNER, f"message {n}") for n in range(3)]
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert [m["text"] for m in sent] == [f"echo: message {n}" for n in range(3)]
    assert [(p.update_id, p.status) for p in bots.telegram.webhook_posts()] == [
        (i, 200) for i in ids
    ]
    assert bots.telegram.get_updates_calls() == []  # nobody polls in webhook mode
    history = await bots.history(str(OWNER))
    assert [m.metadata.get("update_id") for m in history if m.role == "user"] == ids


async def test_a_wrong_or_missing_secret_gets_403_and_nothing_is_queued(bots: BotRunner) -> None:
    await bots.start(telegram=webhook(bots, url=""))  # nothing registered: we post ourselves
    assert bots.telegram.calls("setWebhook") == []
    url = f"http://127.0.0.1:{bots.health_port}/telegram/webhook"
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": OWNER, "type": "private"},
            "from": {"id": OWNER, "is_bot": False, "first_name": "Alice"},
            "text": "let me in",
        },
    }
    assert await post(url, update, None) == 403
    assert await post(url, update, "wrong") == 403
    assert await post(url, update, SECRET + "x") == 403
    assert await post(url, "not an update", SECRET) == 400
    assert await bots.store().owed() == []
    assert bots.model.request_count == 0

    assert await post(url, update, SECRET) == 200  # the right secret: stored, then answered
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: let me in"
    assert await post(url, update, SECRET) == 200  # Telegram's retry: answered once only
    assert await bots.store().owed() == []
    assert bots.model.request_count == 1
    assert len(bots.telegram.sent_messages(OWNER)) == 1


async def test_a_failing_webhook_answer_makes_telegram_retry(bots: BotRunner) -> None:
    """The bot is down when the first POST arrives (nothing listens): Telegram keeps the
    update and posts it again; it is answered once the bot is up."""
    bots.telegram.push_message(OWNER, "are you up?")
    bots.model.enqueue(Reply("I am up"))
    bot = await bots.start(telegram=webhook(bots))
    await bots.telegram.wait_for_messages(OWNER, 1)
    assert bots.telegram.sent_messages(OWNER)[0]["text"] == "I am up"
    await bot.stop()
    bots.telegram.push_message(OWNER, "still there?")  # posted while nothing listens
    await wait_until(lambda: any(p.status != 200 for p in bots.telegram.webhook_posts()), 10)
    assert bots.telegram.webhook_info()["last_error_message"].startswith("Connection failed")
    await bots.start(telegram=webhook(bots))
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == "echo: still there?"


async def test_health_says_which_replica_and_that_it_consumes(bots: BotRunner) -> None:
    await bots.start(telegram=webhook(bots))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{bots.health_port}/healthz") as response:
            body = json.loads(await response.text())
    assert response.status == 200
    assert body["ok"] is True and body["consuming"] is True and body["receiving"] is True
    assert body["replica"] and body["pid"] == os.getpid()


def run_bot(
    args: list[str], tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "telegram_bot.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"telegram": {"mode": "webhook"}}, "webhook needs telegram.webhook.secret_token"),
        (
            {"queue": {"type": "sqs", "sqs": {"url": "http://q/1/a.fifo"}}},
            "queue.type: sqs needs store.type: dynamodb",
        ),
        (
            {
                "queue": {"type": "sqs", "sqs": {"url": "http://q/1/a.fifo"}},
                "store": {"type": "dynamodb"},
            },
            "queue.type: sqs needs telegram.mode: webhook",
        ),
        (
            {"telegram": {"webhook": {"secret_token": "has space"}}},
            "telegram.webhook.secret_token: 1-256 characters",
        ),
    ],
)
def test_invalid_replica_settings_are_one_line_and_exit_2(
    bots: BotRunner, tmp_path: Path, overrides: dict[str, Any], expected: str
) -> None:
    result = run_bot(["--config", str(bots.write_config(**overrides))], tmp_path, bots.env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


async def test_check_reports_the_webhook(bots: BotRunner, tmp_path: Path) -> None:
    config = bots.write_config(telegram=webhook(bots))
    env = {**bots.env}
    missing = run_bot(["--check", "--config", str(config)], tmp_path, env)
    assert missing.returncode == 0, missing.stdout  # set at the bot's start-up, not before
    assert "note  webhook    no webhook is set" in missing.stdout

    bot = await bots.start(telegram=webhook(bots))
    await bot.stop()  # the webhook stays set; updates now fail to arrive
    bots.telegram.push_message(OWNER, "anyone?")
    await wait_until(lambda: any(p.status != 200 for p in bots.telegram.webhook_posts()), 10)
    result = run_bot(["--check", "--config", str(config)], tmp_path, env)
    assert result.returncode == 0, result.stdout
    line = next(x for x in result.stdout.splitlines() if "webhook" in x and "pending" in x)
    assert "1 update(s) pending" in line and "last error: Connection failed" in line


async def test_store_down_answers_503_and_telegram_retries(
    bots: BotRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox cannot take the update (another process holds the records database): the
    webhook answers 503 once its wait is over (1 s here, 30 s by default), Telegram posts
    the update again, and it is answered once the store is back. The write the timed-out
    request left waiting may land before the retry: the retry finds the update owed and not
    in its lane, and queues it."""
    monkeypatch.setattr(webhook_module, "LOCAL_TIMEOUT_S", 1.0)
    await bots.start(telegram=webhook(bots))
    with records_locked(bots.data_dir):
        update_id = bots.telegram.push_message(OWNER, "stored at last")
        await wait_until(lambda: any(p.status == 503 for p in bots.telegram.webhook_posts()), 20)
        assert bots.telegram.sent_messages(OWNER) == []
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=20)
    assert sent[0]["text"] == "echo: stored at last"
    statuses = [p.status for p in bots.telegram.webhook_posts() if p.update_id == update_id]
    assert 503 in statuses and statuses[-1] == 200
    assert bots.model.request_count == 1
