"""The bot with `store.type: dynamodb`, against moto in server mode (a child process).

The endpoint and fake credentials reach boto3 through the environment, as in production:
in-process bots read os.environ, bot processes inherit it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from src.channels.telegram import texts
from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.store.dynamodb.conversations import DynamoDBStore
from tests.harness import OWNER, ROOT, BotRunner
from tests.peers.dynamodb import DynamoDBProxy
from tests.peers.openai_server import Reply


def dynamodb(table: str, create: bool = True) -> dict[str, Any]:
    return {"type": "dynamodb", "dynamodb": {"table": table, "create_table": create}}


async def stored(table: str, conversation_id: str) -> list[Message]:
    store = DynamoDBStore(DynamoDBStoreConfig(table=table))
    await store.open()
    try:
        return await store.load_recent(conversation_id, None)
    finally:
        await store.close()


async def test_reply_restart_and_the_history_is_still_there(
    bots: BotRunner, moto: str, table: str
) -> None:
    first = await bots.start(store=dynamodb(table))
    bots.telegram.push_message(OWNER, "my name is Ada")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: my name is Ada"
    assert await first.stop() == 0

    await bots.start(store=dynamodb(table, create=False))
    bots.telegram.push_message(OWNER, "what is my name?")
    await bots.telegram.wait_for_messages(OWNER, 2)
    contents = [m["content"] for m in bots.model.last_request()["messages"]]
    assert contents[1:] == ["my name is Ada", "echo: my name is Ada", "what is my name?"]
    history = await stored(table, str(OWNER))
    assert [(m.role, m.content) for m in history] == [
        ("user", "my name is Ada"),
        ("assistant", "echo: my name is Ada"),
        ("user", "what is my name?"),
        ("assistant", "echo: what is my name?"),
    ]
    assert not bots.data_dir.exists()  # nothing went to the file store


async def test_reset_deletes_every_item_of_the_conversation(
    bots: BotRunner, moto: str, table: str
) -> None:
    await bots.start(store=dynamodb(table))
    bots.telegram.push_message(OWNER, "remember 42")
    await bots.telegram.wait_for_messages(OWNER, 1)
    bots.telegram.push_message(OWNER, "/reset")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == texts.RESET_DONE
    assert await stored(table, str(OWNER)) == []
    bots.telegram.push_message(OWNER, "fresh start")
    await bots.telegram.wait_for_messages(OWNER, 3)
    roles = [(m["role"], m["content"]) for m in bots.model.last_request()["messages"][1:]]
    assert roles == [("user", "fresh start")]
    history = await stored(table, str(OWNER))
    assert [m.content for m in history] == ["fresh start", "echo: fresh start"]


@pytest.mark.slow
async def test_a_killed_bot_process_answers_after_restart(
    bots: BotRunner, moto: str, table: str
) -> None:
    bots.model.enqueue(Reply(hang=True))
    first = bots.spawn(store=dynamodb(table))
    first.wait_polling(bots.telegram)
    bots.telegram.push_message(OWNER, "first")
    bots.telegram.push_message(OWNER, "second")  # queued behind the hanging turn
    await bots.model.wait_for_requests(1, timeout=15)
    first.process.send_signal(signal.SIGKILL)
    first.wait()

    second = bots.spawn(store=dynamodb(table, create=False))
    second.wait_polling(bots.telegram)
    sent = await bots.telegram.wait_for_messages(OWNER, 2, timeout=20)
    assert [m["text"] for m in sent] == ["echo: first", "echo: second"]
    history = await stored(table, str(OWNER))
    assert [m.content for m in history] == ["first", "echo: first", "second", "echo: second"]
    second.signal(signal.SIGTERM)
    assert second.wait() == 0, second.log


async def test_a_throttled_table_delays_the_reply_but_loses_nothing(
    bots: BotRunner, moto: str, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DynamoDBProxy(moto) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        await bots.start(store=dynamodb(table))
        # From now on the first try of every third request is refused as over capacity.
        proxy.decide = lambda operation, n: "throttle" if n % 3 == 1 else "forward"
        proxy.seen.clear()
        bots.telegram.push_message(OWNER, "hello through the throttle")
        sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=60)
        assert sent[0]["text"] == "echo: hello through the throttle"
        history = await stored(table, str(OWNER))
    assert [m.content for m in history] == [
        "hello through the throttle",
        "echo: hello through the throttle",
    ]
    assert proxy.done["throttle"] >= 3


def run_check(
    config: Path, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "telegram_bot.py"), "--check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_check_reports_the_table(bots: BotRunner, moto: str, table: str, tmp_path: Path) -> None:
    missing = run_check(bots.write_config(store=dynamodb(table, create=False)), tmp_path, bots.env)
    assert missing.returncode == 1, missing.stdout
    where = f"dynamodb table {table} (us-east-1)"
    assert f"FAIL  store      {where}: DynamoDB table {table} does not exist" in missing.stdout

    created = run_check(bots.write_config(store=dynamodb(table)), tmp_path, bots.env)
    assert created.returncode == 0, created.stdout + created.stderr
    assert f"ok    store      {where}: ACTIVE, on-demand" in created.stdout
    assert "Traceback" not in missing.stdout + missing.stderr + created.stdout + created.stderr
