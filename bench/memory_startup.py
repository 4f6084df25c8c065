"""Benchmark: start-up time and memory of the real bot process (file store, no MCP servers).

    python -m bench.memory_startup [--quick] [--starts 5] [--conversations 500] [--quiet 60]
                                   [--python PATH] [--env KEY=VALUE ...] [--admin]

The local Telegram and OpenAI-compatible servers from tests/peers run in this process (in
threads); the bot runs as `python telegram_bot.py` in a child process, as in production.

- start-up: from Popen until the bot's first getUpdates reaches the Telegram server (the
  runtime, store, model client, tools and Coordinator are built before it), and until the
  answer to a message that was already waiting at start reaches it (first turn included).
- idle RSS: after 10 turns in one conversation and `--quiet` seconds without traffic.
- RSS after N conversations: one message each from N different users, all answered.
- imports: `python -X importtime` of what `python telegram_bot.py` imports, by top package.

The sources are byte-compiled first (`compileall`, as the Dockerfile does).

`--python` runs the bot with another interpreter, e.g. a Python 3.12 virtualenv holding only
requirements.txt (what the image has: dev packages such as cryptography, which
python-telegram-bot imports when it finds it, are not there). `--env` adds variables to the
bot's environment (e.g. MALLOC_ARENA_MAX=2, which the image sets).

Prints markdown tables. The last column is the budget of the developers' guide (start-up until
it can answer under 0.8 s, idle under 85 MB, both with every feature on: --all-features).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import yaml

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import compile_ahead
from bench.scheduler import fill
from tests.harness import merge
from tests.peers.openai_server import FakeOpenAI
from tests.peers.telegram_server import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
OWNER = 4242
FIRST_USER = 100_000  # the N conversations are users FIRST_USER .. FIRST_USER + N - 1
MB = 1024 * 1024
ALL_FEATURES: dict[str, object] = {
    "memory": {"enabled": True},
    "vision": {"enabled": True},
    "documents": {"enabled": True},
    "scheduler": {"enabled": True, "max_per_user": 1000},
    "limits": {
        "messages_per_minute": 1000,
        "daily_tokens": 10**9,
        "monthly_tokens": 10**10,
        "daily_usd": 1000,
        "monthly_usd": 10000,
        "bot_monthly_usd": 100000,
    },
    "llm": {"models": {"gpt-4o-mini": {"input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6}}},
}


def wait(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(step)


def rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / MB
    return fields["VmRSS"], fields["VmHWM"]


class Bench:
    def __init__(
        self,
        workdir: Path,
        telegram: FakeTelegram,
        model: FakeOpenAI,
        users: int,
        python: str,
        extra_env: dict[str, str],
        features: dict[str, object] | None = None,
    ) -> None:
        self.workdir = workdir
        self.python = python
        self.telegram = telegram
        self.model = model
        self.config = workdir / "config.yml"
        config = {
            "telegram": {
                "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "api_base_url": telegram.url,
                "allowed_user_ids": [OWNER, *range(FIRST_USER, FIRST_USER + users)],
            },
            "llm": {"base_url": model.base_url, "api_key": "${OPENAI_API_KEY}"},
            "store": {"file": {"directory": str(workdir / "data" / "conversations")}},
            "health": {"host": "127.0.0.1", "port": 0},
        }
        self.config.write_text(yaml.safe_dump(merge(config, features or {})))
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "OPENAI_API_KEY": "sk-bench",
            "PTB_TIMEDELTA": "true",
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }

    def spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.python, str(ROOT / "telegram_bot.py"), "--config", str(self.config)],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def sent(self) -> int:
        return len(self.telegram.sent_messages())

    def answer(self, user: int, text: str) -> None:
        """Send one message and wait for the bot's answer."""
        before = self.sent()
        self.telegram.push_message(user, text)
        wait(lambda: self.sent() > before, 30, f"the answer to {text!r}")

    def start_up(self, with_message: bool) -> float:
        """Seconds from process start to its first getUpdates (or to the first answer)."""
        polls, sent = len(self.telegram.get_updates_calls()), self.sent()
        if with_message:
            self.telegram.push_message(OWNER, "are you up?")
        started = time.perf_counter()
        process = self.spawn()
        try:
            if with_message:
                wait(lambda: self.sent() > sent, 60, "the first answer")
            else:
                wait(lambda: len(self.telegram.get_updates_calls()) > polls, 60, "getUpdates")
            return time.perf_counter() - started
        finally:
            self.stop(process)

    def memory(self, conversations: int, quiet_s: float) -> dict[str, tuple[float, float]]:
        results: dict[str, tuple[float, float]] = {}
        polls = len(self.telegram.get_updates_calls())
        process = self.spawn()
        try:
            wait(lambda: len(self.telegram.get_updates_calls()) > polls, 60, "getUpdates")
            results["after start-up"] = rss(process.pid)
            for turn in range(10):
                self.answer(OWNER, f"turn {turn}: tell me something")
            time.sleep(quiet_s)
            results[f"idle: 10 turns, then {quiet_s:.0f} s quiet"] = rss(process.pid)
            sent = self.sent()
            for user in range(FIRST_USER, FIRST_USER + conversations):
                self.telegram.push_message(user, "hello, a new conversation")
            wait(
                lambda: self.sent() >= sent + conversations,
                max(60.0, conversations * 0.5),
                "every conversation's answer",
                step=0.1,
            )
            time.sleep(2)
            results[f"after {conversations} conversations"] = rss(process.pid)
        finally:
            self.stop(process)
        return results


def import_profile(python: str, top: int = 10) -> list[tuple[str, float]]:
    """Cumulative import time (ms) of the top-level packages `python telegram_bot.py` loads."""
    code = (
        "import sys; sys.argv = ['telegram_bot.py']; import telegram_bot, runpy; "
        "from src.ops.lean_imports import import_telegram_lean; import_telegram_lean(); "
        "import src.runtime, src.channels.telegram.service"
    )
    result = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        by_package[name.split(".")[0]] += int(self_us) / 1000
    return sorted(by_package.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--starts", type=int, default=5, help="start-up runs")
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--quiet", type=float, default=60.0, help="idle seconds before measuring")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the bot")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the bot")
    parser.add_argument(
        "--all-features",
        action="store_true",
        help="memory, photos, documents, every limit, the scheduler with 10,000 entries",
    )
    parser.add_argument(
        "--admin", action="store_true", help="the admin page on (admin.enabled, ADMIN_TOKEN)"
    )
    args = parser.parse_args()
    if args.quick:
        args.starts, args.conversations, args.quiet = 2, 50, 3.0
    extra_env = dict(item.split("=", 1) for item in args.env)
    if args.admin:
        extra_env.setdefault("ADMIN_TOKEN", "bench-admin-token-0123456789")
    # Stopping the bot cuts its long poll short; the local Telegram server would print that.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    compile_ahead(args.python)
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, FakeTelegram() as telegram:
        model = FakeOpenAI(api_key="sk-bench")
        model.start()
        try:
            features = ALL_FEATURES if args.all_features else None
            if args.admin:
                features = merge(features or {}, {"admin": {"enabled": True}})
            bench = Bench(
                Path(tmp), telegram, model, args.conversations, args.python, extra_env, features
            )
            if args.all_features:
                chats = list(range(FIRST_USER, FIRST_USER + 1000))
                directory = Path(tmp) / "data" / "conversations"
                asyncio.run(fill(directory, chats, 10_000, time.time() + 3600, 30 * 86400))
            bench.start_up(False)  # warm the OS file cache once; not counted
            polls = [bench.start_up(False) for _ in range(args.starts)]
            answers = [bench.start_up(True) for _ in range(args.starts)]
            memory = bench.memory(args.conversations, args.quiet)
        finally:
            model.stop()
    imports = import_profile(args.python)

    print(f"bot on python {version} ({args.python}), {platform.machine()}, {os.cpu_count()} CPUs")
    extra = f"; environment {' '.join(args.env)}" if args.env else ""
    on = "; memory, photos, documents, limits and the scheduler with 10,000 entries"
    on = on if args.all_features else ""
    on += "; the admin page on" if args.admin else ""
    print(f"file store, no MCP servers; the local peers answer at once{extra}{on}\n")
    print(f"| start-up (runs: {args.starts}) | min | median | max | budget |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, samples in (
        ("process start → first getUpdates", polls),
        ("process start → answer to a waiting message", answers),
    ):
        print(
            f"| {label} | {min(samples):.2f} s | {statistics.median(samples):.2f} s "
            f"| {max(samples):.2f} s | {'< 0.8 s' if samples is answers else ''} |"
        )
    print("\n| memory | RSS | peak RSS (VmHWM) | budget |")
    print("| --- | ---: | ---: | ---: |")
    for index, (label, (now, peak)) in enumerate(memory.items()):
        budget = ("", "< 85 MB", "< 110 MB")[index]
        print(f"| {label} | {now:.1f} MB | {peak:.1f} MB | {budget} |")
    print("\n| import (python -X importtime, self time summed by top package) | ms |")
    print("| --- | ---: |")
    for name, ms in imports:
        print(f"| {name} | {ms:.0f} |")


if __name__ == "__main__":
    main()
