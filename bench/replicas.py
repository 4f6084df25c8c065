"""Replicas: throughput of 1, 2 and 3 bot processes taking webhook updates through one SQS
FIFO queue (moto) with the history on DynamoDB (dynalite), and the latency the queue adds to a
turn compared with the local inbox.

    python -m bench.replicas            # 300 chats, a 1 s model, 1-3 replicas (a few minutes)
    python -m bench.replicas --quick    # a smoke run

Every process runs on this machine, with moto, dynalite (moto in `--quick`) and the local
Telegram and model servers: the figures say what the code costs here, not what AWS would do
(README, "Webhook and replicas", has the limits on paper). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from src.config import DynamoDBStoreConfig, StoreConfig
from src.store import create_storage
from tests.harness import BotRunner, free_port
from tests.peers import sqs
from tests.peers.dynamodb import LocalServer, aws_env
from tests.peers.openai_server import FakeOpenAI
from tests.peers.round_robin import RoundRobin
from tests.peers.serve import wait_until_sync
from tests.peers.telegram_server import FakeTelegram

FIRST_USER = 10_000
SECRET = "bench-secret"


class Setup:
    """moto (SQS, ReceiveMessage one call at a time: tests/peers/sqs.py), dynalite or moto
    (DynamoDB), the local Telegram and model, until the stack closes."""

    def __init__(self, stack: contextlib.ExitStack, model_s: float, tables: str) -> None:
        self.moto = LocalServer("moto")
        stack.callback(self.moto.stop)
        self.tables = self.moto if tables == "moto" else LocalServer("dynalite")
        if self.tables is not self.moto:
            stack.callback(self.tables.stop)
        self.receive = stack.enter_context(sqs.serialized(self.moto.url))
        os.environ.update(aws_env(self.tables.url))
        os.environ["AWS_ENDPOINT_URL_SQS"] = self.receive.url
        os.environ["PTB_TIMEDELTA"] = "true"
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        self.model_s = model_s
        self.runs = 0

    def run(self, replicas: int, chats: int, queue: str) -> tuple[float, float]:
        """`chats` chats each send one message at once to `replicas` processes; returns
        (seconds until the last reply, turns per second)."""
        self.runs += 1
        workdir = self.tmp / f"run-{self.runs}"
        workdir.mkdir()
        table = f"bench-{self.runs}-{int(time.time())}"
        asyncio.run(create_table(table))
        with FakeTelegram() as telegram:
            model = FakeOpenAI(api_key="sk-test", latency_s=self.model_s)
            model.start()
            runner = BotRunner(workdir, telegram, model)
            ports = [free_port() for _ in range(replicas)]
            try:
                with RoundRobin([f"http://127.0.0.1:{p}" for p in ports]) as proxy:
                    processes = [
                        runner.spawn(**settings(table, queue, proxy.url, port, chats))
                        for port in ports
                    ]
                    for process, port in zip(processes, ports, strict=True):
                        process.wait_consuming(f"http://127.0.0.1:{port}", timeout=60)
                    started = time.monotonic()
                    for n in range(chats):
                        user = FIRST_USER + n
                        telegram.push_message(user, f"hello {n}", user_id=user)
                    wait_until_sync(
                        lambda: len(telegram.sent_messages()) >= chats,
                        timeout=600,
                        interval=0.05,
                    )
                    last = max(max(telegram.sent_times(FIRST_USER + n)) for n in range(chats))
            finally:
                asyncio.run(runner.close())
                model.stop()
        elapsed = last - started
        return elapsed, chats / elapsed

    def latency(self, queue_type: str, turns: int, wait_s: int) -> list[float]:
        """One chat, `turns` messages one after another (the model answers at once): the
        time from Telegram's POST of each message to its reply, on one process."""
        self.runs += 1
        workdir = self.tmp / f"run-{self.runs}"
        workdir.mkdir()
        table = f"bench-{self.runs}-{int(time.time())}"
        asyncio.run(create_table(table))
        queue = sqs.create_fifo(self.moto.url) if queue_type == "sqs" else ""
        with FakeTelegram() as telegram:
            model = FakeOpenAI(api_key="sk-test")
            model.start()
            runner = BotRunner(workdir, telegram, model)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            try:
                config = settings(table, queue, url, port, 1)
                if queue_type == "local":
                    del config["queue"]
                else:
                    config["queue"]["sqs"]["receive_wait_s"] = wait_s
                process = runner.spawn(**config)
                process.wait_consuming(url, timeout=60)
                times = []
                for n in range(turns):
                    update_id = telegram.push_message(FIRST_USER, f"turn {n}", user_id=FIRST_USER)
                    wait_until_sync(partial(answered, telegram, n + 1), timeout=60, interval=0.002)
                    posted = next(
                        p.time for p in telegram.webhook_posts() if p.update_id == update_id
                    )
                    times.append(telegram.sent_times(FIRST_USER)[n] - posted)
            finally:
                asyncio.run(runner.close())
                model.stop()
        return times


def answered(telegram: FakeTelegram, count: int) -> bool:
    return len(telegram.sent_messages(FIRST_USER)) >= count


def settings(table: str, queue: str, proxy: str, port: int, chats: int) -> dict[str, Any]:
    return {
        "telegram": {
            "mode": "webhook",
            "webhook": {"url": f"{proxy}/telegram/webhook", "secret_token": SECRET},
            "allowed_user_ids": list(range(FIRST_USER, FIRST_USER + chats)),
            "streaming": False,
            # Telegram's 30 messages/s per bot would cap every row at 30 turns/s: lifted
            # here to measure this machine (README: what limits throughput).
            "max_messages_per_second": 1000,
        },
        "store": {"type": "dynamodb", "dynamodb": {"table": table}},
        "queue": {
            "type": "sqs",
            "sqs": {"url": queue, "visibility_timeout_s": 60, "receive_wait_s": 1},
        },
        "health": {"host": "127.0.0.1", "port": port},
    }


async def create_table(table: str) -> None:
    config = DynamoDBStoreConfig(table=table, create_table=True)
    storage = create_storage(StoreConfig(type="dynamodb", dynamodb=config), "config.yml")
    await storage.open()
    await storage.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    chats, model_s, turns = (300, 1.0, 30)
    counts: tuple[int, ...] = (1, 2, 3)
    if args.quick:
        chats, model_s, counts, turns = (10, 0.2, (1, 2), 3)
    print(f"# Replicas ({platform.machine()}, {os.cpu_count()} cores; every process here)\n")
    with contextlib.ExitStack() as stack:
        # The smoke run keeps to one server (moto for both): fewer processes to go wrong.
        setup = Setup(stack, model_s, "moto" if args.quick else "dynalite")
        print(f"## Throughput: {chats} chats, one message each at once, a {model_s:g} s model\n")
        print("| replicas | last reply (s) | turns/s |")
        print("| --- | --- | --- |")
        for count in counts:
            elapsed, rate = setup.run(count, chats, sqs.create_fifo(setup.moto.url))
            print(f"| {count} | {elapsed:.2f} | {rate:.1f} |", flush=True)
        print(f"\n## Latency one turn adds, {turns} turns in one chat, an instant model\n")
        print("| queue | median (ms) | p90 (ms) |")
        print("| --- | --- | --- |")
        for queue_type, wait_s in (("local", 0), ("sqs", 1), ("sqs", 0)):
            times = sorted(setup.latency(queue_type, turns, wait_s))
            p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
            median = statistics.median(times)
            name = "local inbox" if queue_type == "local" else f"SQS, receive_wait_s {wait_s}"
            print(f"| {name} | {median * 1000:.0f} | {p90 * 1000:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
