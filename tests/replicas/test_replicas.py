"""Three bot processes behind a round-robin proxy, one SQS FIFO queue (moto in server mode)
and one DynamoDB table (dynalite: one moto for both is the bottleneck): Telegram (the local
fake) posts every update to the proxy.

What must hold: every user message is answered exactly once (one final sendMessage whose text
is the answer to it), and each chat's answers come in the order of its messages, also when a
replica is killed (SIGKILL) mid-load: its messages show again after the visibility timeout
(10 s here) and the other replicas resume them through the shared inbox.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from src.config import DynamoDBStoreConfig, StoreConfig
from src.store import create_storage
from tests.harness import BotProcess, BotRunner, free_port
from tests.peers import sqs
from tests.peers.dynamodb import shared_endpoint, use_endpoint
from tests.peers.round_robin import RoundRobin
from tests.peers.serve import wait_until
from tests.replicas.test_webhook import SECRET

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHATS = 100
MESSAGES = 3
FIRST_USER = 10_000


def config(table: str, queue: str, proxy: str, port: int) -> dict[str, Any]:
    return {
        "telegram": {
            "mode": "webhook",
            "webhook": {"url": f"{proxy}/telegram/webhook", "secret_token": SECRET},
            "allowed_user_ids": list(range(FIRST_USER, FIRST_USER + CHATS)),
            "streaming": False,
            "max_messages_per_second": 200,
        },
        "store": {"type": "dynamodb", "dynamodb": {"table": table}},
        "queue": {
            "type": "sqs",
            "sqs": {"url": queue, "visibility_timeout_s": 10, "receive_wait_s": 1},
        },
        "health": {"host": "127.0.0.1", "port": port},
    }


async def create_table(table: str) -> None:
    storage = create_storage(
        StoreConfig(type="dynamodb", dynamodb=DynamoDBStoreConfig(table=table, create_table=True)),
        "config.yml",
    )
    await storage.open()
    await storage.close()


async def replicas(
    bots: BotRunner, table: str, queue: str, count: int = 3
) -> tuple[RoundRobin, list[BotProcess]]:
    await create_table(table)
    ports = [free_port() for _ in range(count)]
    proxy = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    proxy.__enter__()
    processes = [bots.spawn(**config(table, queue, proxy.url, port)) for port in ports]
    for process, port in zip(processes, ports, strict=True):
        await asyncio.to_thread(process.wait_consuming, f"http://127.0.0.1:{port}")
    return proxy, processes


def push_load(bots: BotRunner) -> dict[int, list[str]]:
    expected: dict[int, list[str]] = {}
    for n in range(MESSAGES):
        for chat in range(FIRST_USER, FIRST_USER + CHATS):
            text = f"chat {chat} message {n}"
            bots.telegram.push_message(chat, text, user_id=chat)
            expected.setdefault(chat, []).append(f"echo: {text}")
    return expected


def answers(bots: BotRunner) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for message in bots.telegram.sent_messages():
        found.setdefault(message["chat"]["id"], []).append(message["text"])
    return found


async def all_answered(bots: BotRunner, expected: dict[int, list[str]], within: float) -> None:
    """Until every message has an answer (plus a second for one sent twice to show); the
    assertion names the chats that differ."""
    try:
        await wait_until(lambda: len(bots.telegram.sent_messages()) >= CHATS * MESSAGES, within)
    except AssertionError:
        pass
    await asyncio.sleep(1)
    found = answers(bots)
    wrong = {chat: found.get(chat, []) for chat in expected if found.get(chat) != expected[chat]}
    assert not wrong, f"{len(wrong)} chats differ, e.g. {list(wrong.items())[:3]}"


@pytest.fixture
def queue(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The queue on moto, its ReceiveMessage calls one at a time (tests/peers/sqs.py says
    why); the table on dynalite (one moto for both is the bottleneck)."""
    use_endpoint(monkeypatch, shared_endpoint("dynalite"))
    with sqs.serialized(moto) as proxy:
        sqs.use_sqs_endpoint(monkeypatch, proxy.url)
        yield sqs.create_fifo(moto)


async def test_three_replicas_answer_every_message_once_in_order(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    proxy, processes = await replicas(bots, table, queue)
    try:
        expected = push_load(bots)
        await all_answered(
            bots, expected, within=150
        )  # each chat: its 3 answers, once each, in order
        await wait_until(lambda: sqs.counts(moto, queue) == (0, 0), 20, message="not drained")
        turns = Counter(p.log.count("turn with agent") for p in processes)
        assert all(p.log.count("turn with agent") > 0 for p in processes), turns
        assert {status for _, status in proxy.forwarded} == {200}
    finally:
        proxy.__exit__(None, None, None)


async def test_a_replica_killed_mid_load_loses_nothing_and_repeats_nothing(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    """The model takes 3 s at first, so that when replica 0 is killed (SIGKILL) every turn
    it holds is waiting for the model, none in the middle of sending: the kill cannot land
    in the one window no queue can close (after Telegram took the answer, before the inbox
    heard of it; README "Webhook and replicas")."""
    proxy, processes = await replicas(bots, table, queue)
    try:
        bots.model.latency_s = 3.0
        expected = push_load(bots)
        await wait_until(lambda: bots.model.in_flight >= 30, 30, message="turns never started")
        assert bots.telegram.sent_messages() == []
        killed = processes[0]
        held = killed.log.count("turn with agent")
        assert held > 0  # it holds turns when it dies
        killed.signal(signal.SIGKILL)
        killed.process.wait(timeout=10)
        bots.model.latency_s = 0.0
        await all_answered(bots, expected, within=150)
        await wait_until(lambda: sqs.counts(moto, queue) == (0, 0), 20, message="not drained")
        resumed = sum(p.log.count("received again") for p in processes[1:])
        assert resumed >= 1  # the killed replica's messages came back to the others
    finally:
        proxy.__exit__(None, None, None)
