"""Documents: text extraction time, and bot-side time from a document's arrival to the model
request that carries its text.

Files are real: PDFs written by pypdf with a text layer (200 words a page), and a 1 MB
Markdown file. "extract" runs the extraction the bot runs (in this thread, to time it
alone): up to `documents.max_chars` (the default 20,000: what the bot does, it stops there)
and the whole file. "received -> request" runs the real bot in this process against the
local Telegram and OpenAI-compatible servers: from handing the document to the waiting
getUpdates to the model request reaching the local server (intake, the inbox write,
getFile, the download, extraction in a worker thread, the turn's store writes).

    python -m bench.documents [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import in_process_bot
from src.documents.extract import extract
from src.documents.kinds import Kind
from tests.documents.files import page_text, pdf
from tests.harness import OWNER
from tests.peers.openai_server import Reply

MAX_CHARS = 20_000


def markdown(size: int) -> bytes:
    line = "- item with a few words of text, a number 12345 and **bold** parts\n"
    return ("# Notes\n\n" + line * (size // len(line) + 1)).encode()[:size]


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def received_to_request(
    data: bytes, name: str, mime: str, runs: int
) -> tuple[float, list[int]]:
    """Median ms from the push to the model request's arrival, and the request sizes."""
    results, sizes = [], []
    overrides: dict[str, Any] = {"documents": {"enabled": True}, "telegram": {"streaming": False}}
    async with in_process_bot(**overrides) as (telegram, model):
        model.set_handler(lambda body: Reply(text="Summary."))
        for _ in range(runs):
            sent = telegram.sent_count(OWNER)
            before = time.monotonic()
            telegram.push_document(OWNER, data, name, mime, caption="Summarise this")
            await telegram.wait_for_messages(OWNER, sent + 1, timeout=120)
            results.append((model.timings[-1][0] - before) * 1000)
            sizes.append(len(str(model.requests[-1])))
            telegram.push_message(OWNER, "/reset")  # each request carries one document
            await telegram.wait_for_messages(OWNER, sent + 2, timeout=60)
    return statistics.median(results), sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run of each, small files")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    pages = (2, 5) if args.quick else (10, 100)
    text_size = 100_000 if args.quick else 1_000_000
    files: list[tuple[str, bytes, Kind, str]] = [
        (f"PDF, {n} pages", pdf([page_text(i) for i in range(1, n + 1)]), "pdf", "a.pdf")
        for n in pages
    ]
    size = f"{text_size // 1000} KB" if text_size < 1_000_000 else f"{text_size / 1e6:g} MB"
    files.append((f"text, {size}", markdown(text_size), "text", "a.md"))
    print(
        f"Documents: median of {runs} run(s); {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, documents.max_chars {MAX_CHARS:,}\n"
    )
    print(
        "| file | bytes | extract up to max_chars (ms) | extract whole file (ms) "
        "| received -> model request (ms) | model request (chars) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, data, kind, name in files:
        extract(data, kind, MAX_CHARS)  # warm: the first call imports the library
        shown = timed(lambda: extract(data, kind, MAX_CHARS), runs)  # noqa: B023
        whole = timed(lambda: extract(data, kind, 10**9), runs)  # noqa: B023
        mime = "application/pdf" if kind == "pdf" else "text/markdown"
        bot, sizes = asyncio.run(received_to_request(data, name, mime, runs))
        row = f"| {label} | {len(data):,} | {shown:.1f} | {whole:.1f} | {bot:.1f} "
        print(f"{row}| {max(sizes):,} |")


if __name__ == "__main__":
    main()
