"""The DynamoDB part of `python -m bench.store_append --backend dynalite|moto`.

Starts the local server (a child process on a free port, as the tests do), then for each
history size: a fresh table, the history appended in bulk, timed appends and window loads,
and `turns` bot turns with the capacity DynamoDB reports per turn priced at on-demand rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import uuid

from bench.store_append import CONVERSATION, RECENT, message, percentile, probes, timed
from src.config import DynamoDBStoreConfig
from src.store.dynamodb.conversations import DynamoDBStore
from src.store.dynamodb.records import DynamoDBRecords
from src.store.inbox import Inbox, InboxItem
from tests.peers.dynamodb import LocalServer, aws_env

_FILL_BATCH = 1000
_UPDATE_BASE = 900_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turns", type=int, default=50, help="DynamoDB: turns to price")
    parser.add_argument(
        "--wru-price",
        type=float,
        default=0.625,
        help="on-demand $ per million write request units (us-east-1 since Nov 2024)",
    )
    parser.add_argument(
        "--rru-price",
        type=float,
        default=0.125,
        help="on-demand $ per million read request units (us-east-1 since Nov 2024)",
    )


async def measure(size: int, appends: int, loads: int, turns: int) -> dict[str, float]:
    rnd = random.Random(size)
    store = DynamoDBStore(
        DynamoDBStoreConfig(table=f"bench-{uuid.uuid4().hex[:8]}", create_table=True)
    )
    await store.open()
    try:
        history = [message(rnd, i) for i in range(size)]
        for start in range(0, size, _FILL_BATCH):
            await store.append_messages(CONVERSATION, history[start : start + _FILL_BATCH])
        fresh = [message(rnd, size + i) for i in range(appends)]
        append, load = probes(store, fresh, size + appends)

        read0, write0 = store.capacity.snapshot()
        append_s = await timed(appends, append)
        read1, write1 = store.capacity.snapshot()
        load_s = await timed(loads, load)
        read2, _ = store.capacity.snapshot()
        turn_read, turn_write = await run_turns(store, rnd, size + appends, turns)
        await store.client.call("delete_table", TableName=store.table)
    finally:
        await store.close()
    ms = 1000.0
    return {
        "append_median": statistics.median(append_s) * ms,
        "append_p99": percentile(append_s, 99) * ms,
        "load_median": statistics.median(load_s) * ms,
        "load_p99": percentile(load_s, 99) * ms,
        "append_wcu": (write1 - write0) / appends,
        "load_rcu": (read2 - read1) / loads,
        "turn_wcu": turn_write,
        "turn_rcu": turn_read,
        "append_rcu": read1 - read0,
    }


async def run_turns(
    store: DynamoDBStore, rnd: random.Random, start: int, turns: int
) -> tuple[float, float]:
    """Turns as the bot runs them (inbox, window, two appends, inbox done): mean units."""
    inbox = Inbox(DynamoDBRecords(store.config, store.client))
    read0, write0 = store.capacity.snapshot()
    for turn in range(turns):
        question, answer = message(rnd, start + 2 * turn), message(rnd, start + 2 * turn + 1)
        update_id = _UPDATE_BASE + turn
        item = InboxItem(update_id, "text", question.content or "", user_id=12345, chat_id=1)
        assert await inbox.accept(CONVERSATION, item)
        await store.load_recent(CONVERSATION, RECENT)
        await store.append_messages(CONVERSATION, [question])
        await store.append_messages(CONVERSATION, [answer])
        await inbox.done(CONVERSATION, update_id)
    read1, write1 = store.capacity.snapshot()
    return (read1 - read0) / turns, (write1 - write0) / turns


def run(args: argparse.Namespace, sizes: list[int], appends: int, loads: int, turns: int) -> None:
    server = LocalServer(args.backend)
    os.environ.update(aws_env(server.url))  # boto3 reads the endpoint and fake credentials
    try:
        print(
            f"DynamoDBStore on {args.backend} (a local child process over loopback HTTP); "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()} "
            f"({platform.system()} {platform.machine()}); {appends} appends of one ~300-char "
            f"message, {loads} x load_recent(id, {RECENT}) (strongly consistent), {turns} turns; "
            f"on-demand prices ${args.wru_price}/M write and ${args.rru_price}/M read units\n"
        )
        print(
            "| history (messages) | append median (ms) | append p99 (ms) "
            "| load_recent median (ms) | load_recent p99 (ms) | WCU per append "
            "| RCU per window | WCU per turn | RCU per turn | $ per 1,000 turns |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            r = asyncio.run(measure(size, appends, loads, turns))
            assert r["append_rcu"] == 0, "an append read something"
            cost = 1000 * (r["turn_wcu"] * args.wru_price + r["turn_rcu"] * args.rru_price) / 1e6
            print(
                f"| {size:,} | {r['append_median']:.2f} | {r['append_p99']:.2f} "
                f"| {r['load_median']:.2f} | {r['load_p99']:.2f} | {r['append_wcu']:.1f} "
                f"| {r['load_rcu']:.1f} | {r['turn_wcu']:.1f} | {r['turn_rcu']:.1f} "
                f"| {cost:.4f} |",
                flush=True,
            )
    finally:
        server.stop()
