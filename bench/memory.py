"""What long-term memory adds to a turn: building the memory block of the system message for
a user with 0, 100 and 5,000 facts, on the file store (SQLite beside the JSONL files) and on
DynamoDB (dynalite, a local child process). Prints a markdown table.

    python -m bench.memory            # file and dynalite, 500 turns each
    python -m bench.memory --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import fresh_stores
from src.config import Config, StoreConfig
from src.memory.facts import KIND, Fact, fact_id, record_key, to_data
from src.memory.service import create_memory
from src.store import Record, RecordStore, create_storage
from src.tools.context import TurnContext

USER = 4242
WRITES_AT_ONCE = 32
PEOPLE = ["Emma", "Noah", "the user's mother", "the user's partner", "Dr. Okonkwo", "Sam"]
THINGS = [
    "school", "dentist", "birthday", "allergy", "car", "flat", "office", "gym", "piano",
    "garden", "passport", "bank", "train", "football", "cat", "doctor", "holiday", "diet",
]  # fmt: skip
PLACES = ["Lyon", "Leeds", "Porto", "Rue Victor Hugo", "the library", "Jules Ferry", "Berlin"]
MESSAGES = [
    "What time does Emma's school start tomorrow?",
    "Remind me what my dentist said about the appointment",
    "Any ideas for my partner's birthday?",
    "Which train do I usually take to the office?",
    "hi",
    "Can you plan a vegetarian dinner for four?",
    "When is the cat due at the vet?",
    "Write a short note to the bank about my passport",
]


def fact_texts(count: int, seed: int = 7) -> list[str]:
    """`count` different facts of the kind people ask an assistant to keep."""
    rng = random.Random(seed)
    texts = []
    for number in range(count):
        who, thing, where = rng.choice(PEOPLE), rng.choice(THINGS), rng.choice(PLACES)
        texts.append(f"{who}'s {thing} is near {where} (note {number}, day {rng.randint(1, 28)})")
    return texts


async def seed(records: RecordStore, count: int) -> None:
    texts = fact_texts(count)
    for start in range(0, count, WRITES_AT_ONCE):
        batch = []
        for number, text in enumerate(texts[start : start + WRITES_AT_ONCE], start):
            fact = Fact(fact_id(text), text, 1_700_000_000.0 + number, 0.0)
            record = Record(KIND, record_key(USER, fact.id), to_data(fact), user_id=USER)
            batch.append(records.put(record))
        await asyncio.gather(*batch)


async def measure(store: StoreConfig, facts: int, turns: int) -> dict[str, float]:
    config = Config.model_validate(
        {"llm": {"api_key": "x"}, "store": store.model_dump(), "memory": {"enabled": True}}
    )
    storage = create_storage(config.store)
    await storage.open()
    try:
        await seed(storage.records, facts)  # each row has a store of its own
        memory = create_memory(config, storage.records)
        assert memory is not None
        context = TurnContext(str(USER), USER, "private")
        started = time.perf_counter()
        await memory.block(context, MESSAGES[0])  # the first turn reads the user's facts
        load = time.perf_counter() - started
        times, sizes = [], []
        cpu0 = time.process_time()
        for turn in range(turns):
            started = time.perf_counter()
            block = await memory.block(context, MESSAGES[turn % len(MESSAGES)])
            times.append(time.perf_counter() - started)
            sizes.append(len(block or ""))
        cpu = time.process_time() - cpu0
    finally:
        await storage.close()
    times.sort()
    return {
        "load": load * 1e3,
        "median": statistics.median(times) * 1e3,
        "p99": times[int(0.99 * (len(times) - 1))] * 1e3,
        "cpu": cpu / turns * 1e3,
        "chars": statistics.median(sizes),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--facts", default="0,100,5000", help="comma-separated fact counts")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--backends", default="file,dynalite")
    args = parser.parse_args(argv)
    turns = 20 if args.quick else args.turns
    counts = [0, 100, 500] if args.quick else [int(n) for n in args.facts.split(",")]
    print(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); {turns} turns per row, "
        f"memory.max_prompt_chars 2000; tokens are block characters / 4\n"
    )
    print(
        "| store | facts | first turn: read + index (ms) | per turn median (ms) "
        "| per turn p99 (ms) | CPU per turn (ms) | block chars (median) | tokens |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        with fresh_stores(backend, fsync=False) as fresh:
            for count in counts:  # each row on a store of its own
                r = asyncio.run(measure(fresh(), count, turns))
                print(
                    f"| {backend} | {count:,} | {r['load']:.2f} | {r['median']:.3f} "
                    f"| {r['p99']:.3f} | {r['cpu']:.3f} | {r['chars']:,.0f} "
                    f"| {r['chars'] / 4:,.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
