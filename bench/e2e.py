"""End-to-end benchmarks of the real bot process: overhead, concurrency, long chats, memory,
start-up. Prints markdown tables.

    python -m bench.e2e                # the full suite (several minutes)
    python -m bench.e2e --quick        # a ~10 s smoke run (CI)
    python -m bench.e2e --only overhead,startup
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import (
    Bot,
    Peers,
    compile_ahead,
    pace_ms,
    peers,
    percentile,
    reply_times,
    send,
    users,
    wait_replies,
)
from src.config import DynamoDBStoreConfig
from src.conversation.message import Message
from src.store.conversations import ConversationStore
from src.store.dynamodb.conversations import DynamoDBStore
from src.store.file.conversations import FileStore
from tests.peers.dynamodb import LocalServer, aws_env
from tests.peers.openai_server import Reply

FAST = {"max_messages_per_second": 100_000}  # a local server has no flood limit to respect


def turn(p: Peers, chat: int, text: str, timeout: float = 30) -> float:
    """One turn; returns the bot-side latency in ms: from the update's delivery to the
    reply's arrival, minus the time the model server spent on the request."""
    before = p.telegram.sent_count(chat)
    requests = len(p.model.timings)
    update_id = send(p, chat, text)
    if not p.telegram.wait_sent(chat, before + 1, timeout):
        raise AssertionError(f"no reply in chat {chat} within {timeout} s")
    replied = p.telegram.sent_times(chat)[-1]
    delivered = p.telegram.delivered_at(update_id)
    assert delivered is not None
    model = sum(end - start for start, end in p.model.timings[requests:])
    return (replied - delivered - model) * 1000


def overhead(turns: int, rounds: int) -> list[str]:
    """`rounds` runs of `turns` turns in one bot process, each with the machine's pace
    measured around it: on a shared VM the rounds differ as the pace does. Each round has
    chats of its own, so each starts from the same history lengths (a longer window costs
    more to send)."""
    rows = [
        "| round | turns | median (ms) | p99 (ms) | CPU per turn (ms) | machine pace (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    with peers() as p:
        bot = Bot(p, telegram=FAST)
        bot.start()
        everyone = users(20 * (rounds + 1))
        for i in range(10):  # warm-up, in chats of its own
            turn(p, everyone[i], "warm up")
        for round_number in range(1, rounds + 1):
            chats = everyone[20 * round_number : 20 * (round_number + 1)]
            pace = pace_ms()
            cpu = bot.cpu_seconds()
            latencies = [turn(p, chats[i % 20], f"message {i}") for i in range(turns)]
            cpu_per_turn = (bot.cpu_seconds() - cpu) / turns * 1000
            pace = (pace + pace_ms()) / 2
            rows.append(
                f"| {round_number} | {turns} | {statistics.median(latencies):.1f} "
                f"| {percentile(latencies, 0.99):.1f} | {cpu_per_turn:.2f} | {pace:.0f} |"
            )
        bot.stop()
    return rows


def concurrency(sizes: list[int]) -> list[str]:
    rows = [
        "| chats | last reply (s) | floor 1 s + N/30 (s) | over floor | lost | duplicates "
        "| max sendMessage in 1 s | chats out of order |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        with peers() as p:
            p.model.latency_s = 1.0
            bot = Bot(p, allowed=n)
            bot.start()
            chats = users(n)
            start = time.monotonic()
            for chat in chats:
                send(p, chat, "hello")
            wait_replies(p, dict.fromkeys(chats, 1), timeout=60 + n)
            time.sleep(0.5)
            times = reply_times(p)
            last = max(t for chat in chats for t in times.get(chat, [])) - start
            lost = sum(1 for chat in chats if not times.get(chat))
            duplicates = sum(max(0, len(times.get(chat, [])) - 1) for chat in chats)
            all_times = sorted(t for chat in chats for t in times.get(chat, []))
            burst = max(
                sum(1 for t in all_times[i:] if t - s < 1.0) for i, s in enumerate(all_times)
            )
            floor = 1 + n / 30
            rows.append(
                f"| {n} | {last:.2f} | {floor:.2f} | {(last / floor - 1) * 100:+.1f} % "
                f"| {lost} | {duplicates} | {burst} | {_out_of_order(n)} |"
            )
            bot.stop()
    return rows


def _out_of_order(n: int) -> int:
    """N chats each send three messages at once, all of them before any answer (zero-latency
    model, no rate limit, so that turns of different chats interleave as tightly as they can):
    the chats whose replies are not the answers to their messages, in their order."""
    with peers() as p:
        bot = Bot(p, allowed=n, telegram=FAST)
        bot.start()
        chats = users(n)
        for k in (1, 2, 3):
            for chat in chats:
                send(p, chat, f"{chat} {k}")
        wait_replies(p, dict.fromkeys(chats, 3), timeout=60 + n)
        time.sleep(0.2)  # a duplicate would come now
        bot.stop()
        replies: dict[int, list[str]] = {}
        for message in p.telegram.sent_messages():
            replies.setdefault(message["chat"]["id"], []).append(message["text"])
    expected = {chat: [f"echo: {chat} {k}" for k in (1, 2, 3)] for chat in chats}
    return sum(1 for chat in chats if replies.get(chat) != expected[chat])


def long_chats(sizes: list[int], turns: int, backends: list[str]) -> list[str]:
    rows = [
        "| store | history (messages) | turn median (ms) | turn p90 (ms) |",
        "|---|---:|---:|---:|",
    ]
    for backend in backends:
        rows += _long_chats(backend, sizes, turns)
    return rows


def _long_chats(backend: str, sizes: list[int], turns: int) -> list[str]:
    with contextlib.ExitStack() as stack:
        p = stack.enter_context(peers())
        if backend == "file":
            bot = Bot(p, telegram=FAST)
            store: ConversationStore = FileStore(bot.data_dir, fsync=False)
        else:  # moto or dynalite: a local DynamoDB, a child process over loopback HTTP
            server = LocalServer("moto" if backend == "moto" else "dynalite")
            stack.callback(server.stop)
            # The endpoint and fake credentials, for this process's filler and for the bot.
            stack.enter_context(mock.patch.dict(os.environ, aws_env(server.url)))
            table = {"table": "bench-long-chats", "create_table": True}
            bot = Bot(p, telegram=FAST, store={"type": "dynamodb", "dynamodb": table})
            store = DynamoDBStore(DynamoDBStoreConfig(**table))
        chats = users(len(sizes))
        asyncio.run(_fill(store, chats, sizes))
        bot.start()
        rows = []
        for chat, size in zip(chats, sizes, strict=True):
            turn(p, chat, "warm up")
            latencies = [turn(p, chat, f"question {i}") for i in range(turns)]
            rows.append(
                f"| {backend} | {size:,} | {statistics.median(latencies):.1f} "
                f"| {percentile(latencies, 0.9):.1f} |"
            )
        bot.stop()
    return rows


async def _fill(store: Any, chats: list[int], sizes: list[int]) -> None:
    """Seed long histories with the backend's bulk import (not part of the interface)."""
    await store.open()
    try:
        for chat, size in zip(chats, sizes, strict=True):
            history = [
                Message(
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"message {i} " + "x" * 290,
                )
                for i in range(size)
            ]
            await store.save_conversation(str(chat), history)
    finally:
        await store.close()


def _burst(p: Peers, chats: list[int], rounds: int, batch: int = 100) -> None:
    """`rounds` turns in each chat, `batch` chats at a time."""
    for _ in range(rounds):
        for i in range(0, len(chats), batch):
            group = chats[i : i + batch]
            counts = p.telegram.sent_counts()
            expected = {c: counts.get(c, 0) + 1 for c in group}
            for chat in group:
                send(p, chat, "a message of ordinary length for the memory benchmark")
            wait_replies(p, expected, timeout=120)


def memory(quiet_s: float, chats: int, turns: int) -> list[str]:
    with peers() as p:
        p.model.set_handler(lambda body: Reply(text="An answer of ordinary length. " * 4))
        bot = Bot(p, allowed=max(chats, 10), telegram=FAST)
        bot.start()
        started = bot.rss_mb()
        for i in range(10):
            turn(p, users(1)[0], f"turn {i}")
        time.sleep(quiet_s)
        idle = bot.rss_mb()
        everyone = users(chats)
        _burst(p, everyone, 1)
        after_chats = bot.rss_mb()
        rounds = max(1, turns // chats)
        _burst(p, everyone, rounds)
        first = bot.rss_mb()
        _burst(p, everyone, rounds)
        second = bot.rss_mb()
        bot.stop()
    done = rounds * chats
    return [
        "| moment | RSS (MB) |",
        "|---|---:|",
        f"| after start-up | {started:.1f} |",
        f"| idle (10 turns, then {quiet_s:.0f} s quiet) | {idle:.1f} |",
        f"| after {chats:,} chats | {after_chats:.1f} |",
        f"| after {done:,} more turns | {first:.1f} |",
        f"| after another {done:,} turns | {second:.1f} ({(second / first - 1) * 100:+.1f} %) |",
    ]


def startup(runs: int) -> list[str]:
    times = []
    pace = pace_ms()
    for _ in range(runs):
        with peers() as p:
            bot = Bot(p)
            times.append(bot.start() * 1000)
            bot.stop()
    pace = (pace + pace_ms()) / 2
    return [
        "| runs | median (ms) | worst (ms) | machine pace (ms) |",
        "|---:|---:|---:|---:|",
        f"| {runs} | {statistics.median(times):.0f} | {max(times):.0f} | {pace:.0f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", default="", help="comma-separated sections")
    args = parser.parse_args()
    quick = args.quick
    sections: dict[str, tuple[str, Callable[[], list[str]]]] = {
        "overhead": (
            "Overhead: one turn at a time, zero-latency model",
            lambda: overhead(20, 1) if quick else overhead(1000, 3),
        ),
        "concurrency": (
            "Concurrency: N chats at once, 1 s model, rate limiter on (30/s)",
            lambda: concurrency([10] if quick else [10, 50, 100, 500]),
        ),
        "long": (
            "Long chats: turn latency by history length (file store; DynamoDB on moto, dynalite)",
            lambda: long_chats(
                [10, 1000] if quick else [10, 1_000, 10_000],
                3 if quick else 50,
                ["file"] if quick else ["file", "moto", "dynalite"],
            ),
        ),
        "memory": (
            "Memory (RSS of the bot process)",
            lambda: memory(0.5 if quick else 60, 20 if quick else 1000, 40 if quick else 10_000),
        ),
        "startup": (
            "Start-up: process start to first getUpdates",
            lambda: startup(1 if quick else 5),
        ),
    }
    chosen = [s for s in args.only.split(",") if s] or list(sections)
    compile_ahead()  # every bot started here runs byte-code compiled ahead, as in the image
    print(
        f"# Benchmarks{' (quick)' if quick else ''}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}\n\n"
        f"Machine pace: {pace_ms():.0f} ms of CPU for a fixed workload (JSON, sorting, worker-"
        "thread hops: bench/harness.py pace_ms; lower is faster). Every figure moves with it.\n"
    )
    for name in chosen:
        title, run = sections[name]
        print(f"## {title}\n")
        print("\n".join(run()) + "\n", flush=True)


if __name__ == "__main__":
    main()
