"""Time to first visible text: from the model's first token to the first draft/message.

The real bot runs in this process against the local Telegram and OpenAI-compatible servers
(threads). Each turn streams a reply in 40 chunks 20 ms apart.

    python -m bench.first_text [--turns 50] [--edits]
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

from bench.harness import in_process_bot
from tests.harness import OWNER
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until


async def measure(turns: int, edits: bool) -> list[float]:
    unsupported = {"sendMessageDraft"} if edits else set()
    method = "editMessageText" if edits else "sendMessageDraft"
    names = {method.lower(), "sendmessage"}
    delay = float(os.environ.get("BENCH_CHUNK_DELAY", "0.02"))
    results = []
    async with in_process_bot(
        unsupported, chunk_chars=10, telegram={"stream_edit_interval": 0.2}
    ) as (telegram, model):
        for turn in range(turns):
            model.enqueue(Reply(text="streamed words " * 26, chunk_delay_s=delay))
            before = time.monotonic()
            telegram.push_message(OWNER, f"turn {turn}")
            await telegram.wait_for_messages(OWNER, turn + 1, timeout=30)
            first_token = min(t for t in model.first_token_times if t >= before)
            shown = [
                c.time
                for c in telegram.calls()
                if c.method.lower() in names and c.time >= first_token
            ]
            results.append((min(shown) - first_token) * 1000)
            await wait_until(lambda: not telegram.pending_updates())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--edits", action="store_true", help="a server without drafts")
    args = parser.parse_args()
    results = asyncio.run(measure(args.turns, args.edits))
    mode = "edits (no drafts)" if args.edits else "drafts"
    print(
        f"Time to first visible text ({mode}), {args.turns} turns; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print("| median (ms) | p90 (ms) | worst (ms) |")
    print("|---:|---:|---:|")
    p90 = sorted(results)[int(len(results) * 0.9) - 1]
    print(f"| {statistics.median(results):.1f} | {p90:.1f} | {max(results):.1f} |")


if __name__ == "__main__":
    main()
