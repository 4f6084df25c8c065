"""Benchmark harness: the real bot as a child process against the local test servers.

The Telegram and OpenAI-compatible servers from tests/peers run in threads of this process;
their timestamps (time.monotonic) are what the figures are computed from, so the driver's
own polling does not enter the measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from src.config import DynamoDBStoreConfig, FileStoreConfig, StoreConfig
from tests.harness import BotRunner
from tests.peers.dynamodb import LocalServer, aws_env
from tests.peers.openai_server import FakeOpenAI
from tests.peers.serve import wait_until_sync
from tests.peers.telegram_server import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
FIRST_USER = 10_000
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Peers:
    telegram: FakeTelegram
    model: FakeOpenAI
    workdir: Path


@contextlib.asynccontextmanager
async def in_process_bot(
    unsupported: set[str] | None = None, chunk_chars: int = 20, **overrides: Any
) -> AsyncIterator[tuple[FakeTelegram, FakeOpenAI]]:
    """The real bot as a task in this event loop (tests/harness.py), with the local servers."""
    os.environ["PTB_TIMEDELTA"] = "true"
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, FakeTelegram() as telegram:
        telegram.unsupported_methods = set(unsupported or ())
        model = FakeOpenAI(api_key="sk-test", chunk_chars=chunk_chars)
        model.start()
        runner = BotRunner(Path(tmp), telegram, model)
        try:
            await runner.start(**overrides)
            yield telegram, model
        finally:
            await runner.close()
            model.stop()


@contextlib.contextmanager
def fresh_stores(backend: str, fsync: bool = True) -> Iterator[Callable[[], StoreConfig]]:
    """Configs of new, empty stores of one backend (file, moto, dynalite), one per call: a
    temporary directory each, or a table each on a local DynamoDB server that runs (a child
    process, its endpoint in this process's environment) until the block ends."""
    if backend == "file":
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            made = iter(range(1_000_000))

            def file_store() -> StoreConfig:
                directory = f"{tmp}/{next(made)}"
                return StoreConfig(
                    type="file", file=FileStoreConfig(directory=directory, fsync=fsync)
                )

            yield file_store
        return
    server = LocalServer(backend)  # type: ignore[arg-type]
    os.environ.update(aws_env(server.url))

    def table() -> StoreConfig:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        return StoreConfig(
            type="dynamodb", dynamodb=DynamoDBStoreConfig(table=name, create_table=True)
        )

    try:
        yield table
    finally:
        server.stop()


@contextlib.contextmanager
def peers() -> Iterator[Peers]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, FakeTelegram() as telegram:
        model = FakeOpenAI(api_key="sk-bench")
        model.start()
        try:
            yield Peers(telegram, model, Path(tmp))
        finally:
            model.stop()


def compile_ahead(python: str = sys.executable) -> None:
    """Byte-compile the bot's sources, as the Dockerfile does, so that no measured start
    compiles them (PYTHONDONTWRITEBYTECODE may be set, and then nothing is cached)."""
    subprocess.run(
        [python, "-m", "compileall", "-q", "src", "telegram_bot.py"], cwd=ROOT, check=True
    )


def pace_ms() -> float:
    """CPU milliseconds a fixed workload takes here now: JSON round trips and sorting, and
    500 hops to a worker thread and back. On a shared VM this moves from minute to minute by
    tens of percent (waking a thread most of all), and the bot's figures move with it;
    printed beside them, it tells a slow minute from a slow change."""

    async def hops() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(500):
            await loop.run_in_executor(None, int)

    def work() -> None:
        data = {"a": list(range(50)), "b": {"x": "y" * 20, "n": 1.5}}
        for _ in range(1000):
            json.loads(json.dumps(data))
            sorted(str(i) for i in range(20))
        asyncio.run(hops())

    samples = []
    for _ in range(5):
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def users(count: int) -> list[int]:
    return list(range(FIRST_USER, FIRST_USER + count))


class Bot:
    """`python telegram_bot.py` with a config pointing at the local servers."""

    def __init__(self, peers: Peers, allowed: int = 1000, **overrides: Any) -> None:
        self.peers = peers
        self.data_dir = peers.workdir / "data"
        config: dict[str, dict[str, Any]] = {
            "telegram": {
                "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "api_base_url": peers.telegram.url,
                "allowed_user_ids": users(allowed),
            },
            "llm": {
                "base_url": peers.model.base_url,
                "api_key": "${OPENAI_API_KEY}",
                "model": "bench-model",
                "max_retries": 0,
            },
            "store": {"file": {"directory": str(self.data_dir)}},
            "health": {"enabled": False},
        }
        for section, values in overrides.items():
            config.setdefault(section, {}).update(values)
        self.config_path = peers.workdir / "config.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = peers.workdir / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> float:
        """Start and wait until it polls; returns seconds from spawn to the first getUpdates."""
        calls = len(self.peers.telegram.get_updates_calls())
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": self.peers.telegram.token,
            "OPENAI_API_KEY": "sk-bench",
            "LOG_LEVEL": "WARNING",
            "PTB_TIMEDELTA": "true",
        }
        self.started_at = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "telegram_bot.py"), "--config", str(self.config_path)],
                cwd=self.peers.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_sync(
            lambda: len(self.peers.telegram.get_updates_calls()) > calls or self._exited(),
            timeout=30,
            interval=0.002,
            message="the bot never polled",
        )
        if self._exited():
            raise RuntimeError(f"the bot exited:\n{self.log_path.read_text()[-3000:]}")
        return self.peers.telegram.get_updates_calls()[calls].time - self.started_at

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def send(peers: Peers, chat_id: int, text: str) -> int:
    return peers.telegram.push_message(chat_id, text)


def wait_replies(peers: Peers, expected: dict[int, int], timeout: float) -> None:
    """Wait until each chat has at least `expected[chat]` final messages."""

    def done() -> bool:
        counts = peers.telegram.sent_counts()
        return all(counts.get(chat, 0) >= n for chat, n in expected.items())

    wait_until_sync(done, timeout=timeout, interval=0.01, message="replies missing")


def reply_times(peers: Peers) -> dict[int, list[float]]:
    """Arrival times of successful sendMessage calls, per chat, in order."""
    return {chat: peers.telegram.sent_times(chat) for chat in peers.telegram.sent_counts()}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
