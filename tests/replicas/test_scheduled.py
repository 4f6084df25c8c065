"""Scheduled messages with two replicas on one DynamoDB table (dynalite) and one SQS queue
(moto): the claim is a conditional write (the record's version), so one replica sends each
entry; a claim another live replica holds is not taken at start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from src.config import DynamoDBStoreConfig, StoreConfig
from src.scheduler.entries import LEASE_S, Entries, Entry
from src.store import create_storage
from tests.harness import OWNER, BotRunner, free_port
from tests.peers import sqs
from tests.peers.dynamodb import shared_endpoint, use_endpoint
from tests.peers.serve import wait_until
from tests.replicas.test_replicas import config, create_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def queue(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_endpoint(monkeypatch, shared_endpoint("dynalite"))
    with sqs.serialized(moto) as proxy:
        sqs.use_sqs_endpoint(monkeypatch, proxy.url)
        yield sqs.create_fifo(moto)


async def add_entries(table: str, texts: list[str], claimed: bool = False) -> None:
    """Entries due a second ago (or claimed just now by a replica that is still alive)."""
    storage = create_storage(
        StoreConfig(type="dynamodb", dynamodb=DynamoDBStoreConfig(table=table)), "config.yml"
    )
    await storage.open()
    try:
        entries, now = Entries(storage.records), time.time()
        for text in texts:
            entry = Entry("", OWNER, str(OWNER), text, "UTC", now - 1, now - 60)
            if claimed:
                entry = Entry(
                    "", OWNER, str(OWNER), text, "UTC", now + LEASE_S, now - 60, claimed_at=now
                )
            await entries.create(entry)
    finally:
        await storage.close()


def reminders(bots: BotRunner) -> list[str]:
    return sorted(t for t in bots.telegram.texts(OWNER) if t.startswith("⏰"))


async def test_two_replicas_send_each_due_entry_once(
    bots: BotRunner, moto: str, table: str, queue: str
) -> None:
    await create_table(table)
    texts = [f"reminder {n}" for n in range(10)]
    await add_entries(table, texts)
    await add_entries(table, ["held by a live replica"], claimed=True)
    ports = [free_port(), free_port()]
    processes = []
    for port in ports:
        settings = config(table, queue, "http://127.0.0.1:9", port)
        settings["telegram"]["allowed_user_ids"] = [OWNER]
        settings["telegram"]["webhook"]["url"] = ""
        processes.append(bots.spawn(scheduler={"enabled": True}, **settings))
    for process, port in zip(processes, ports, strict=True):
        await asyncio.to_thread(process.wait_consuming, f"http://127.0.0.1:{port}")
    await wait_until(lambda: len(reminders(bots)) >= len(texts), 30, message="not all sent")
    await asyncio.sleep(2)  # a second copy, or the held one, would be out by now
    sent = reminders(bots)
    assert [t.removeprefix("⏰ ") for t in sent] == sorted(texts), sent
