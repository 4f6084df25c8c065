"""Per-turn overhead of the spend limits: the check before a turn and the charge of each
model call, on the file store (SQLite beside the JSONL files, fsync on) and on DynamoDB
(dynalite, a local child process). Prints a markdown table.

    python -m bench.limits            # file and dynalite, 500 turns each
    python -m bench.limits --quick    # a smoke run
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

from bench.harness import fresh_stores
from src.config import Config, StoreConfig
from src.conversation.usage import Cost
from src.limits.policy import TurnMeter, create_limits
from src.llm.client import Usage
from src.store import create_storage

LIMITS: dict[str, float] = {  # every limit on, none reached
    "daily_tokens": 10**12,
    "monthly_tokens": 10**12,
    "daily_usd": 10**6,
    "monthly_usd": 10**6,
    "bot_monthly_usd": 10**6,
}
MODELS = {"gpt-4o-mini": {"input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6}}


def config(store: StoreConfig, limits: dict[str, float]) -> Config:
    return Config.model_validate(
        {
            "llm": {"api_key": "x", "models": MODELS},
            "store": store.model_dump(),
            "limits": limits,
        }
    )


async def measure(store: StoreConfig, limits: dict[str, float], turns: int) -> dict[str, float]:
    cfg = config(store, limits)
    storage = create_storage(cfg.store)
    await storage.open()
    try:
        policy, _ = create_limits(cfg, storage.records)
        cost = Cost("gpt-4o-mini", Usage(1200, 300))
        checks, charges = [], []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for turn in range(turns):
            user = 1000 + turn % 50  # 50 users taking turns
            started = time.perf_counter()
            await policy.check(user)
            checked = time.perf_counter()
            await TurnMeter(policy, user)(cost)
            charges.append(time.perf_counter() - checked)
            checks.append(checked - started)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await storage.close()
    return {
        "check": statistics.median(checks) * 1e3,
        "check_p99": sorted(checks)[int(0.99 * (len(checks) - 1))] * 1e3,
        "charge": statistics.median(charges) * 1e3,
        "charge_p99": sorted(charges)[int(0.99 * (len(charges) - 1))] * 1e3,
        "wall": wall / turns * 1e3,
        "cpu": cpu / turns * 1e3,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--backends", default="file,dynalite")
    parser.add_argument("--no-fsync", action="store_true", help="file store without fsync")
    args = parser.parse_args(argv)
    turns = 20 if args.quick else args.turns
    print(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); {turns} turns of one model call each, "
        "50 users; CPU is the whole process (dynalite runs in its own)\n"
    )
    print(
        "| store | limits | check median (ms) | check p99 (ms) | charge median (ms) "
        "| charge p99 (ms) | per turn (ms) | CPU per turn (ms) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        with fresh_stores(backend, fsync=not args.no_fsync) as fresh:
            for label, limits in (("none set", {}), ("all five set", LIMITS)):
                r = asyncio.run(measure(fresh(), limits, turns))
                print(
                    f"| {backend} | {label} | {r['check']:.3f} | {r['check_p99']:.3f} "
                    f"| {r['charge']:.3f} | {r['charge_p99']:.3f} | {r['wall']:.3f} "
                    f"| {r['cpu']:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
