"""Benchmark: store append and load_recent latency as the history grows; for DynamoDB also
the capacity a turn consumes and what 1,000 turns cost at on-demand prices.

    python -m bench.store_append [--backend file|dynalite|moto] [--sizes 10,1000,100000]
                                 [--appends 200] [--loads 100] [--turns 50] [--no-fsync]
                                 [--wru-price 0.625] [--rru-price 0.125] [--quick]

For each history size a fresh store (a temporary directory, or a new table on a local
DynamoDB server the benchmark starts) gets that many messages of about 300 characters, then
one-message appends and `load_recent(id, 200)` calls are timed one by one. For DynamoDB,
`--turns` turns then run as the bot does them: the inbox accepts the message (pending mark and
metadata), the window is loaded, the user and the assistant messages are appended, the inbox
is done; the capacity DynamoDB reports (ReturnConsumedCapacity=TOTAL) is summed per turn.
Benchmark DynamoDB on dynalite: moto counts 1 unit for any item and its Query slows as the
history grows. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from src.conversation.message import Message
from src.store.conversations import ConversationStore
from src.store.file.conversations import FileStore

WORDS = (
    "the a meeting tomorrow at nine please remind me about project report budget draft call "
    "weather in Paris is sunny today and mild later this week could you summarise notes for "
    "Alice email send the invoice before Friday thanks sure here is what I found on that topic"
).split()
CONVERSATION = "-1001234567890:42"
RECENT = 200


def text(rnd: random.Random, chars: int = 300) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rnd.choice(WORDS))
    return " ".join(words)[:chars]


def message(rnd: random.Random, index: int) -> Message:
    if index % 2 == 0:
        return Message(
            role="user",
            content=text(rnd),
            metadata={"update_id": 500_000_000 + index, "user_id": 12345, "source": "telegram"},
        )
    return Message(role="assistant", content=text(rnd), metadata={"agent": "assistant"})


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def probes(
    store: ConversationStore, fresh: list[Message], expected: int
) -> tuple[Callable[[int], Awaitable[None]], Callable[[int], Awaitable[None]]]:
    """The two timed actions: append fresh message i, and load the model's window."""

    async def append(i: int) -> None:
        await store.append_messages(CONVERSATION, [fresh[i]])

    async def load(_: int) -> None:
        got = await store.load_recent(CONVERSATION, RECENT)
        assert len(got) == min(RECENT, expected), len(got)

    return append, load


async def timed(runs: int, action: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        await action(i)
        samples.append(time.perf_counter() - start)
    return samples


async def measure(size: int, appends: int, loads: int, fsync: bool) -> dict[str, float]:
    rnd = random.Random(size)
    with tempfile.TemporaryDirectory(prefix="bench-store-") as directory:
        store = FileStore(Path(directory) / "store", fsync=fsync)
        await store.open()
        await store.save_conversation(CONVERSATION, [message(rnd, i) for i in range(size)])
        file_mb = sum(p.stat().st_size for p in store.directory.glob("*.jsonl")) / 1e6
        fresh = [message(rnd, size + i) for i in range(appends)]
        append, load = probes(store, fresh, size + appends)

        append_s = await timed(appends, append)
        load_s = await timed(loads, load)
        total = len(await store.load_recent(CONVERSATION, None))
        assert total == size + appends, (total, size + appends)
        await store.close()
    ms = 1000.0
    return {
        "file_mb": file_mb,
        "append_median": statistics.median(append_s) * ms,
        "append_p99": percentile(append_s, 99) * ms,
        "load_median": statistics.median(load_s) * ms,
        "load_p99": percentile(load_s, 99) * ms,
    }


def main(argv: list[str] | None = None) -> None:
    from bench import store_dynamodb  # it imports this module

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["file", "dynalite", "moto"], default="file")
    parser.add_argument("--sizes", default=None, help="history sizes, comma-separated")
    parser.add_argument("--appends", type=int, default=200, help="timed appends per size")
    parser.add_argument("--loads", type=int, default=100, help="timed load_recent calls per size")
    parser.add_argument("--no-fsync", action="store_true", help="do not fsync appends")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    store_dynamodb.add_arguments(parser)
    args = parser.parse_args(argv)
    default_sizes = "10,1000,100000" if args.backend == "file" else "10,1000,10000"
    sizes = [int(s.replace("_", "")) for s in (args.sizes or default_sizes).split(",") if s]
    appends, loads = args.appends, args.loads
    if args.quick:
        sizes, appends, loads = [s for s in sizes if s <= 1000] or [10], 10, 5
    if min(sizes) < 0 or appends < 1 or loads < 1:
        parser.error("sizes must be >= 0 and --appends/--loads >= 1")
    fsync = not args.no_fsync
    if args.backend != "file":
        turns = 5 if args.quick else args.turns
        store_dynamodb.run(args, sizes, appends, loads, turns)
        return

    print(
        f"FileStore, fsync {'on' if fsync else 'off'}, temp dir {tempfile.gettempdir()}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); "
        f"{appends} appends of one ~300-char message, {loads} x load_recent(id, {RECENT})\n"
    )
    print(
        "| history (messages) | file (MB) | append median (ms) | append p99 (ms) "
        "| load_recent median (ms) | load_recent p99 (ms) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        r = asyncio.run(measure(size, appends, loads, fsync))
        print(
            f"| {size:,} | {r['file_mb']:.2f} | {r['append_median']:.3f} | "
            f"{r['append_p99']:.3f} | {r['load_median']:.3f} | {r['load_p99']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
