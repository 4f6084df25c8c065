"""Tokens sent to the model per turn over a long scripted conversation, by context policy.

The real Coordinator, FileStore and LLMClient run against the local scripted model server,
which counts each request itself (characters / 4 of all message text, tool calls and tool
definitions) and reports that count as the usage. Every third turn calls a tool whose
result is about 600 characters. Three policies:

- everything: no budget, the whole history goes with every request
- drop oldest: `max_context_tokens` with compaction off (the oldest turns are left out)
- summarise: the same budget with compaction (older turns summarised into one record)

    python -m bench.compaction [--turns 500] [--budget 4000] [--history 200]

Prints a markdown table: the mean tokens sent per turn over ten-turn stretches, the total,
the largest single request and the number of summaries.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from src.conversation.compaction import INSTRUCTIONS
from tests.direct import TextTool, direct, request_chars, system_prompt
from tests.peers.openai_server import FakeOpenAI, Reply

SUMMARISER_MARK = INSTRUCTIONS.split(".", 1)[0]
WORDS = "please remember that the meeting with the design team moved to thursday at ten " * 3


@dataclass
class Run:
    name: str
    per_turn: list[int] = field(default_factory=list)  # tokens sent in each turn
    largest: int = 0
    summaries: int = 0
    seconds: float = 0.0


class Script:
    """The scripted model: tool call every third turn, summaries on request."""

    def __init__(self) -> None:
        self.sent = 0  # tokens sent since the last reset
        self.largest = 0
        self.summaries = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        counted = request_chars(body) // 4
        self.sent += counted
        self.largest = max(self.largest, counted)
        usage = {"prompt_tokens": counted, "completion_tokens": 60}
        if system_prompt(body).startswith(SUMMARISER_MARK):
            self.summaries += 1
            text = f"Summary {self.summaries}: the user keeps sharing schedule notes. " * 4
            return Reply(text=text, usage=usage)
        last = body["messages"][-1]
        if last["role"] == "tool":
            return Reply(text="Here is what the note says: " + WORDS, usage=usage)
        turn = int(str(last["content"]).split()[1].rstrip(":"))
        if turn % 3 == 0:
            return Reply(tool_calls=[("notes__lookup", {"q": f"turn {turn}"})], usage=usage)
        return Reply(text=f"Noted for turn {turn}. " + WORDS, usage=usage)


async def run(name: str, turns: int, conversation: dict[str, Any]) -> Run:
    model = FakeOpenAI(api_key="sk-test", chunk_chars=4096)
    model.start()
    script = Script()
    model.set_handler(script)
    result = Run(name)
    lookup = TextTool("notes__lookup", "note: " + "x" * 600)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            async with direct(Path(tmp), model, tools=[lookup], conversation=conversation) as bot:
                for turn in range(turns):
                    before = script.sent
                    await bot.ask(f"turn {turn}: {WORDS}")
                    result.per_turn.append(script.sent - before)
            result.seconds = time.perf_counter() - started
    finally:
        model.stop()
    result.largest, result.summaries = script.largest, script.summaries
    return result


def table(runs: list[Run], turns: int) -> str:
    """Mean tokens per turn over the ten turns ending at a few points, then totals."""
    points = sorted({p for p in (10, 50, 100, 200, 300, 400, 500, turns) if 10 <= p <= turns})
    header = ["policy", *(f"turns {p - 9}-{p}" for p in points)]
    header += ["total", "mean/turn", "largest request", "summaries", "wall s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in runs:
        cells = [r.name, *(f"{statistics.fmean(r.per_turn[p - 10 : p]):,.0f}" for p in points)]
        cells += [
            f"{sum(r.per_turn):,}",
            f"{statistics.fmean(r.per_turn):,.0f}",
            f"{r.largest:,}",
            str(r.summaries),
            f"{r.seconds:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def measure(turns: int, budget: int, history: int) -> list[Run]:
    unlimited = {"max_context_tokens": 10**9, "max_history_messages": 10**6}
    limited = {"max_context_tokens": budget, "max_history_messages": history}
    return [
        await run("everything", turns, {**unlimited, "compaction": {"enabled": False}}),
        await run("drop oldest", turns, {**limited, "compaction": {"enabled": False}}),
        await run("summarise", turns, limited),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=500, help="at least 10")
    parser.add_argument("--budget", type=int, default=4000, help="max_context_tokens")
    parser.add_argument("--history", type=int, default=200, help="max_history_messages")
    args = parser.parse_args()
    runs = asyncio.run(measure(args.turns, args.budget, args.history))
    print(
        f"Tokens sent per turn (all requests of the turn, counted by the server as characters"
        f" / 4), {args.turns} turns, budget {args.budget:,} tokens / {args.history} messages;"
        f" Python {platform.python_version()}\n"
    )
    print(table(runs, args.turns))


if __name__ == "__main__":
    main()
