"""Reminders at scale: what 10,000 scheduled entries across 1,000 chats add to start-up and
memory, and how late entries are delivered when 100 fall due in the same second.

    python -m bench.scheduler            # the full run (about a minute)
    python -m bench.scheduler --quick    # a smoke run

The bot runs as `python telegram_bot.py` (file store, scheduler on) against the local Telegram
and model servers; entries are written into its data directory beforehand, as a previous run
would have left them. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import Bot, Peers, compile_ahead, peers, percentile, users
from src.scheduler.entries import Entries, Entry
from src.store.file.records import SQLiteRecords

ON = {"scheduler": {"enabled": True}}


async def fill(
    directory: Path, chats: list[int], count: int, due_at: float, spread: float, first: int = 0
) -> None:
    """`count` entries over `chats`, due from `due_at` over `spread` seconds (ids from
    `first`)."""
    records = SQLiteRecords(directory, fsync=False)
    await records.open()
    try:
        entries = Entries(records, max_per_user=count)
        for n in range(count):
            chat = chats[n % len(chats)]
            due = due_at + spread * n / max(count, 1)
            entry = Entry(
                id=f"{first + n:08x}",
                user_id=chat,
                conversation_id=str(chat),
                text=f"entry {n}",
                zone="UTC",
                due_at=due,
                created_at=time.time(),
            )
            await records.put(entry.to_record())
        assert len(await entries.due(due_at + spread + 1, 10)) == min(count, 10)
    finally:
        await records.close()


def start_and_rss(p: Peers, starts: int, quiet_s: float) -> tuple[list[float], float]:
    bot = Bot(p, allowed=1000, **ON)
    times = []
    rss = 0.0
    for index in range(starts):
        times.append(bot.start())
        if index == starts - 1:
            time.sleep(quiet_s)
            rss = bot.rss_mb()
        bot.stop()
    return times, rss


def delivery(chats: int, due_in: float, background: int, fast: bool) -> list[float]:
    """Seconds from due to arrival at the Telegram server, one per chat."""
    with peers() as p:
        chat_ids = users(chats)
        data = p.workdir / "data"
        due = time.time() + due_in
        later = users(1000)
        asyncio.run(fill(data, later, background, due + 3600, 30 * 86400))
        asyncio.run(fill(data, chat_ids, chats, due, 0.0, first=background))
        limiter = {"max_messages_per_second": 100_000} if fast else {}
        bot = Bot(p, allowed=1000, **ON, telegram=limiter)
        bot.start()
        try:
            deadline = time.monotonic() + due_in + 60
            while time.monotonic() < deadline:
                if all(p.telegram.sent_count(chat) for chat in chat_ids):
                    break
                time.sleep(0.01)
            offset = time.time() - time.monotonic()
            return [p.telegram.sent_times(chat)[0] + offset - due for chat in chat_ids]
        finally:
            bot.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args(argv)
    entries, starts, quiet = (500, 1, 0.5) if args.quick else (10_000, args.starts, 5.0)
    compile_ahead()
    print(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); file store; bot process per start\n"
    )
    print("| scheduled entries | start-up median (ms) | start-up worst (ms) | RSS (MB) |")
    print("|---:|---:|---:|---:|")
    for count in (0, entries):
        with peers() as p:
            if count:
                asyncio.run(fill(p.workdir / "data", users(1000), count, time.time() + 3600,
                                 30 * 86400))  # fmt: skip
            times, rss = start_and_rss(p, starts, quiet)
        print(
            f"| {count:,} | {statistics.median(times) * 1e3:.0f} | {max(times) * 1e3:.0f} "
            f"| {rss:.1f} |",
            flush=True,
        )
    chats = 20 if args.quick else 100
    print(
        f"\n{chats} entries due in the same second, in {chats} chats ({entries:,} others "
        "scheduled later); due → arrival at the Telegram server:\n"
    )
    print("| rate limiter | median (ms) | p99 (ms) | last (ms) |")
    print("|---|---:|---:|---:|")
    for fast in (False, True):
        errors = delivery(chats, 3.0, entries, fast)
        label = "none (local server)" if fast else "on (30 messages/s)"
        print(
            f"| {label} | {statistics.median(errors) * 1e3:.0f} "
            f"| {percentile(errors, 0.99) * 1e3:.0f} | {max(errors) * 1e3:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
