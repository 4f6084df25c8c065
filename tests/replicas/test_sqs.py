"""Webhook mode with the SQS queue (queue.type: sqs) on moto in server mode, the history on
DynamoDB (moto too): one bot in this process. The replicas' tests are in test_replicas.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from src.access import Access
from src.channels.telegram import service as service_module
from src.config import DynamoDBStoreConfig, StoreConfig
from src.store import Storage, create_storage
from src.store.inbox import InboxItem
from tests.harness import OWNER, BotRunner
from tests.peers import sqs
from tests.peers.dynamodb import DynamoDBProxy
from tests.peers.serve import wait_until
from tests.replicas.test_webhook import SECRET, webhook


@pytest.fixture
def queue(moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    sqs.use_sqs_endpoint(monkeypatch, moto)
    return sqs.create_fifo(moto)


def replicated(bots: BotRunner, table: str, queue: str, url: str | None = None) -> dict[str, Any]:
    return {
        "telegram": webhook(bots, url),
        "store": {"type": "dynamodb", "dynamodb": {"table": table, "create_table": True}},
        "queue": {
            "type": "sqs",
            "sqs": {"url": queue, "visibility_timeout_s": 4, "receive_wait_s": 1},
        },
    }


async def drained(moto: str, queue: str) -> None:
    await wait_until(lambda: sqs.counts(moto, queue) == (0, 0), 10, message="queue not drained")


async def test_updates_go_through_the_queue_in_order(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    await bots.start(**replicated(bots, table, queue))
    chats = [OWNER, OWNER + 1]
    for n in range(3):
        for chat in chats:
            bots.telegram.push_message(chat, f"{chat} says {n}", user_id=OWNER)
    for chat in chats:
        sent = await bots.telegram.wait_for_messages(chat, 3)
        assert [m["text"] for m in sent] == [f"echo: {chat} says {n}" for n in range(3)]
    await drained(moto, queue)
    assert all(p.status == 200 for p in bots.telegram.webhook_posts())


async def test_a_redelivered_update_is_answered_once(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    """A replica died after the answer was sent and the inbox told, before the message was
    deleted: the same update comes again (another deduplication id, as after SQS's 5-minute
    window) and nothing is sent twice. Then one died mid-turn: the inbox still owes the
    update, so its turn runs, once."""
    await bots.start(**replicated(bots, table, queue))
    update_id = bots.telegram.push_message(OWNER, "once only")
    await bots.telegram.wait_for_messages(OWNER, 1)
    await drained(moto, queue)
    body = json.dumps(bots.telegram._all_updates[update_id])

    def send(body: str, dedup: str) -> None:
        sqs.client(moto).send_message(
            QueueUrl=queue,
            MessageBody=body,
            MessageGroupId=str(OWNER),
            MessageDeduplicationId=dedup,
        )

    await asyncio.to_thread(send, body, f"{update_id}-again")
    await drained(moto, queue)
    assert len(bots.telegram.sent_messages(OWNER)) == 1
    assert bots.model.request_count == 1

    # Mid-turn: stored in the shared inbox by the replica that died, never answered.
    owed = {**bots.telegram._all_updates[update_id], "update_id": update_id + 500}
    owed["message"] = {**owed["message"], "message_id": 900, "text": "owed"}
    item = InboxItem(update_id + 500, "text", "owed", OWNER, OWNER, None, 900, {})
    async with shared_store(table) as storage:
        assert await storage.inbox.accept(str(OWNER), item)
    await asyncio.to_thread(send, json.dumps(owed), str(update_id + 500))
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == "echo: owed"
    await drained(moto, queue)
    assert len(bots.telegram.sent_messages(OWNER)) == 2
    assert await bots_owed(table) == []


@asynccontextmanager
async def shared_store(table: str) -> AsyncIterator[Storage]:
    """The replicas' DynamoDB store, opened here as another replica would."""
    config = StoreConfig(type="dynamodb", dynamodb=DynamoDBStoreConfig(table=table))
    storage = create_storage(config, "config.yml")
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def bots_owed(table: str) -> list[str]:
    async with shared_store(table) as storage:
        return [cid for cid, _ in await storage.inbox.pending()]


@pytest.fixture
def proxy(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBProxy]:
    """SQS through a proxy that can play the queue being down."""
    with DynamoDBProxy(moto) as server:
        sqs.use_sqs_endpoint(monkeypatch, server.url)
        yield server


async def test_queue_unreachable_answers_5xx_and_telegram_retries(
    bots: BotRunner, moto: str, table: str, proxy: DynamoDBProxy
) -> None:
    queue = sqs.create_fifo(moto)
    await bots.start(**replicated(bots, table, queue))
    proxy.decide = lambda operation, n: "unavailable" if operation == "SendMessage" else "forward"
    update_id = bots.telegram.push_message(OWNER, "is the queue there?")
    await wait_until(lambda: len(bots.telegram.webhook_posts()) >= 2, 30)
    assert {p.status for p in bots.telegram.webhook_posts()} == {503}
    assert sqs.counts(moto, queue) == (0, 0)  # nothing queued
    assert bots.telegram.sent_messages(OWNER) == []
    proxy.decide = lambda operation, n: "forward"
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=30)
    assert sent[0]["text"] == "echo: is the queue there?"
    assert [p.status for p in bots.telegram.webhook_posts() if p.update_id == update_id][-1] == 200


def test_check_reports_the_queue_and_its_dead_letter_queue(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    from tests.replicas.test_webhook import run_bot

    config = bots.write_config(**replicated(bots, table, queue))
    result = run_bot(["--check", "--config", str(config)], bots.tmp_path, bots.env)
    line = next(x for x in result.stdout.splitlines() if " queue " in x)
    assert line.startswith("ok") and "FIFO" in line and "after 5 receives" in line, result.stdout

    other = replicated(bots, table, queue)
    other["queue"]["sqs"]["max_receives"] = 3
    result = run_bot(
        ["--check", "--config", str(bots.write_config(**other))], bots.tmp_path, bots.env
    )
    assert result.returncode == 1
    assert "queue.sqs.max_receives is 3" in result.stdout
    assert SECRET not in result.stdout


async def test_a_stopping_replica_hands_its_messages_back_at_once(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    """SIGTERM mid-turn: the turn is cut off after its grace and the message shows again at
    once (visibility 0), not after the 60 s visibility timeout; the next start answers it."""
    settings = replicated(bots, table, queue)
    settings["queue"]["sqs"]["visibility_timeout_s"] = 60
    settings["llm"] = {"timeout_s": 60}  # the turn outlives the 7 s grace, not the model call
    bot = await bots.start(**settings)
    bots.model.latency_s = 30.0
    bots.telegram.push_message(OWNER, "slow one")
    await wait_until(lambda: bots.model.in_flight == 1, 10)
    assert sqs.counts(moto, queue) == (0, 1)
    await bot.stop()
    assert sqs.counts(moto, queue) == (1, 0)  # back in the queue, not waiting out 60 s
    assert bots.telegram.sent_messages(OWNER) == []
    bots.model.latency_s = 0.0
    await bots.start(**settings)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: slow one"
    await drained(moto, queue)
    assert len(bots.telegram.sent_messages(OWNER)) == 1


async def test_a_user_another_replica_added_is_let_in(
    bots: BotRunner, moto: str, table: str, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/allow or /invite handled by another replica: this one reads the users added at run
    time again every ACCESS_REFRESH_S (0.3 s here, 15 s by default)."""
    monkeypatch.setattr(service_module, "ACCESS_REFRESH_S", 0.3)
    newcomer = 5151
    await bots.start(**replicated(bots, table, queue))
    bots.telegram.push_message(newcomer, "let me in", user_id=newcomer)
    await drained(moto, queue)
    assert bots.model.request_count == 0  # refused: not on the allowlist
    async with shared_store(table) as storage:  # the other replica's /allow
        await Access([OWNER], [], storage.records).allow(newcomer, OWNER, 0.0)
    await asyncio.sleep(1.0)  # three refreshes
    bots.telegram.push_message(newcomer, "and now?", user_id=newcomer)
    await wait_until(lambda: "echo: and now?" in bots.telegram.texts(newcomer), 10)
