"""Benchmark: how long the admin page takes to answer, over HTTP, with many conversations.

    python -m bench.admin_pages [--quick] [--conversations 1000] [--runs 20]
                                [--backends file,dynalite]

The real runtime on a fresh store (the file store, or DynamoDB on a local dynalite or moto),
N conversations of 4 messages each written through the store's interface, the health server
with the admin page on 127.0.0.1, and a client that signs in and fetches pages the way a
browser does. Times are from the request to the last byte of the answer.

Prints a markdown table: min, median and max per page.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import fresh_stores
from src.config import Config, StoreConfig
from src.config.loader import with_admin_token
from src.conversation.message import Message
from src.ops.health import HealthServer
from src.runtime import open_runtime
from tests.admin.client import TOKEN, AdminClient

OWNER = 4242


async def measure(store: StoreConfig, conversations: int, runs: int) -> dict[str, list[float]]:
    data = {
        "llm": {"api_key": "sk-bench", "base_url": "http://127.0.0.1:9/v1"},
        "telegram": {"allowed_user_ids": [OWNER]},
        "admin": {"enabled": True},
        "store": store.model_dump(),
    }
    config = with_admin_token(Config.model_validate(data), "bench", {"ADMIN_TOKEN": TOKEN})
    runtime = await open_runtime(config)
    from src.admin.app import AdminSite

    server = HealthServer(
        "127.0.0.1", 0, _ok, mounts=(AdminSite(runtime, runtime.access.clock).mount,)
    )
    try:
        for index in range(conversations):
            await runtime.storage.conversations.append_messages(
                str(10_000 + index),
                [
                    Message("user", f"question {index}", metadata={"user_id": 10_000 + index}),
                    Message("assistant", f"answer {index} " * 20),
                    Message("user", "thanks"),
                    Message("assistant", "you're welcome"),
                ],
            )
        port = await server.start()
        last_page = max((conversations - 1) // 50, 0)
        pages = {
            "conversations, page 1": ("/conversations", {}),
            f"conversations, page {last_page + 1} (the oldest)": (
                "/conversations",
                {"page": str(last_page)},
            ),
            "search by id": ("/conversations", {"q": "10000"}),
            "one conversation": ("/conversation", {"id": "10000"}),
            "usage": ("/usage", {}),
            "access": ("/access", {}),
        }
        times: dict[str, list[float]] = {name: [] for name in pages}
        async with AdminClient(port) as client:
            status, _, _ = await client.sign_in()
            assert status == 303, status
            for name, (path, params) in pages.items():
                await client.get(path, **params)  # templates compiled, caches warm
                for _ in range(runs):
                    started = time.perf_counter()
                    status, _, _ = await client.get(path, **params)
                    times[name].append(time.perf_counter() - started)
                    assert status == 200, (name, status)
        return times
    finally:
        await server.stop()
        await runtime.close()


async def _ok() -> dict[str, object]:
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20, help="requests per page")
    parser.add_argument("--backends", default="file,dynalite", help="file, dynalite, moto")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.runs = 60, 3
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print(f"{args.conversations:,} conversations, {args.runs} requests per page\n")
    print("| store | page | min | median | max |")
    print("| --- | --- | ---: | ---: | ---: |")
    for backend in args.backends.split(","):
        with fresh_stores(backend, fsync=False) as new_store:
            times = asyncio.run(measure(new_store(), args.conversations, args.runs))
        for name, samples in times.items():
            ms = [1000 * sample for sample in samples]
            print(
                f"| {backend} | {name} | {min(ms):.1f} ms | {statistics.median(ms):.1f} ms "
                f"| {max(ms):.1f} ms |"
            )


if __name__ == "__main__":
    main()
