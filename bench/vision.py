"""Photos: bot-side time from a photo's arrival to the model request, and what an image costs
in the requests that follow it, by `vision.keep_turns`.

The real bot runs in this process against the local Telegram and OpenAI-compatible servers;
photos are real JPEGs made with Pillow (random pixels, so they are as heavy as a photo of
their size gets). "received" is when the photo is handed to the waiting getUpdates; "sent" is
when the chat request reaches the local model server, so the figure covers intake, the inbox
write, getFile, the download, decoding (and re-encoding a photo over 4 MB or 2048 px) and the
data URL. The second table sends one photo, then text turns, and adds up the request bodies
and their estimated prompt tokens (text at four characters a token, images by OpenAI's
tiles).

    python -m bench.vision [--runs 5] [--turns 10]
    python -m bench.vision --quick
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import in_process_bot
from src.conversation.images import image_tokens
from tests.harness import OWNER
from tests.peers.openai_server import images_in


def photo_of(megabytes: float) -> tuple[bytes, int]:
    """A JPEG of random pixels of about that size, and its side in pixels."""
    from PIL import Image

    side = int(1000 * megabytes**0.5)
    while True:
        pixels = random.Random(side).randbytes(side * side * 3)
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), pixels).save(out, format="JPEG", quality=90)
        if len(out.getvalue()) >= megabytes * 1_000_000 or side > 8000:
            return out.getvalue(), side
        side = int(side * 1.1)


async def arrival(megabytes: float, runs: int) -> tuple[list[float], int, int]:
    """Milliseconds from push to the model request, per run; the photo's and the sent
    image's sizes in bytes."""
    data, side = photo_of(megabytes)
    results, sent = [], 0
    vision = {"enabled": True, "max_image_mb": 20}
    async with in_process_bot(telegram={"streaming": False}, vision=vision) as (telegram, model):
        for run in range(runs):
            before = time.monotonic()
            telegram.push_photo(OWNER, [(data, side, side)], caption=f"photo {run}")
            await telegram.wait_for_messages(OWNER, run + 1, timeout=120)
            results.append((model.timings[-1][0] - before) * 1000)
            sent = images_in(model.last_request())[-1].size
    return results, len(data), sent


def estimated_tokens(body: dict[str, Any]) -> int:
    chars, images = 0, 0
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            chars += sum(len(p.get("text") or "") for p in content)
        elif isinstance(content, str):
            chars += len(content)
    for image in images_in(body):
        images += image_tokens(image.width, image.height, image.detail or "auto")
    return chars // 4 + images


async def after_one_photo(keep_turns: int, turns: int) -> tuple[int, int, int]:
    """(requests with the image, total request bytes, total estimated tokens) over the photo's
    turn and `turns` text turns after it."""
    data, side = photo_of(1.0)
    vision = {"enabled": True, "keep_turns": keep_turns}
    async with in_process_bot(telegram={"streaming": False}, vision=vision) as (telegram, model):
        telegram.push_photo(OWNER, [(data, side, side)], caption="what is this?")
        await telegram.wait_for_messages(OWNER, 1, timeout=60)
        for turn in range(turns):
            telegram.push_message(OWNER, f"tell me more, part {turn}")
            await telegram.wait_for_messages(OWNER, turn + 2, timeout=60)
        bodies = model.requests
    with_image = sum(1 for body in bodies if images_in(body))
    size = sum(len(json.dumps(body)) for body in bodies)
    tokens = sum(estimated_tokens(body) for body in bodies)
    return with_image, size, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run, 2 turns")
    args = parser.parse_args()
    runs, turns = (1, 2) if args.quick else (args.runs, args.turns)
    print(
        f"Photo received -> model request sent, median of {runs} runs; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print("| photo | file (bytes) | sent (bytes) | received -> request (ms) |")
    print("|---:|---:|---:|---:|")
    for megabytes in (1.0, 10.0):
        times, size, sent = asyncio.run(arrival(megabytes, runs))
        print(f"| {megabytes:g} MB | {size:,} | {sent:,} | {statistics.median(times):.1f} |")
    print(f"\nOne 1 MB photo, then {turns} text turns: all {turns + 1} requests together\n")
    print("| keep_turns | requests with the image | request bytes | estimated tokens |")
    print("|---|---:|---:|---:|")
    for keep, label in ((0, "0"), (2, "2"), (-1, "unlimited (-1)")):
        with_image, size, tokens = asyncio.run(after_one_photo(keep, turns))
        print(f"| {label} | {with_image} | {size:,} | {tokens:,} |")


if __name__ == "__main__":
    main()
