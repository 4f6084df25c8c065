"""Running the real bot against the local peers: in this process, or as a subprocess."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from src.clock import SYSTEM_CLOCK, Clock
from src.config import Config, load_config
from src.conversation.message import Message
from src.toolservers.config import MCPFileConfig, load_mcp_config
from tests.peers.openai_server import FakeOpenAI
from tests.peers.serve import wait_until, wait_until_sync
from tests.peers.telegram_server import FakeTelegram
from tests.storeview import StoreView

ROOT = Path(__file__).resolve().parent.parent
OWNER = 4242  # the allowed user; private chat id = user id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


class BotRunner:
    """Writes config files and starts bots; everything started is stopped at close()."""

    def __init__(self, tmp_path: Path, telegram: FakeTelegram, model: FakeOpenAI) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.model = model
        self.data_dir = tmp_path / "data" / "conversations"
        self.health_port = free_port()
        self.extra_env: dict[str, str] = {}  # more environment for the bots (ADMIN_TOKEN, ...)
        self.defaults: dict[str, Any] = {}  # config every bot of this runner starts with
        self._running: list[InProcessBot] = []
        self._processes: list[BotProcess] = []

    @property
    def env(self) -> dict[str, str]:
        return {
            "TELEGRAM_BOT_TOKEN": self.telegram.token,
            "OPENAI_API_KEY": "sk-test",
            **self.extra_env,
        }

    def config_data(self, **overrides: Any) -> dict[str, Any]:
        base = {
            "telegram": {
                "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "api_base_url": self.telegram.url,
                "allowed_user_ids": [OWNER],
                "poll_timeout_s": 5,
            },
            "llm": {
                "base_url": self.model.base_url,
                "api_key": "${OPENAI_API_KEY}",
                "model": "test-model",
                "timeout_s": 5,
                "max_retries": 0,
            },
            "store": {"file": {"directory": str(self.data_dir)}},
            "health": {"host": "127.0.0.1", "port": self.health_port},
        }
        return merge(merge(base, self.defaults), overrides)

    def write_config(self, **overrides: Any) -> Path:
        return self.write_config_as("config", **overrides)

    def write_config_as(self, name: str, /, **overrides: Any) -> Path:
        path = self.tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump(self.config_data(**overrides)), encoding="utf-8")
        return path

    def config(self, **overrides: Any) -> Config:
        return load_config(self.write_config(**overrides), env=self.env)

    def write_mcp(self, mcp: dict[str, Any] | None) -> Path | None:
        """mcp.yml next to config.yml (None: no MCP file, so no tool servers)."""
        if mcp is None:
            return None
        path = self.tmp_path / "mcp.yml"
        path.write_text(yaml.safe_dump(mcp), encoding="utf-8")
        return path

    async def start(
        self, mcp: dict[str, Any] | None = None, clock: Clock | None = None, **overrides: Any
    ) -> InProcessBot:
        """A bot on the config with `overrides`; `clock` (a TestClock) is the one its time-
        dependent parts (retries, limits, periods) read."""
        mcp_path = self.write_mcp(mcp)
        mcp_config = load_mcp_config(mcp_path, env=self.env) if mcp_path else None
        bot = InProcessBot(self.config(**overrides), mcp_config, clock)
        self._running.append(bot)
        await bot.start(self.telegram)
        return bot

    def spawn(self, mcp: dict[str, Any] | None = None, **overrides: Any) -> BotProcess:
        """A bot process; the second and later ones get config files of their own."""
        name = f"config-{len(self._processes)}" if self._processes else "config"
        config_path = self.write_config_as(name, **overrides)
        process = BotProcess(config_path, self.env, self.tmp_path, self.write_mcp(mcp))
        self._processes.append(process)
        return process

    def store(self) -> StoreView:
        return StoreView.of_directory(self.data_dir)

    async def history(self, conversation_id: str) -> list[Message]:
        return await self.store().load_conversation(conversation_id)

    async def close(self) -> None:
        for bot in self._running:
            await bot.stop()
        for process in self._processes:
            process.kill()


class InProcessBot:
    """The real TelegramService running as a task in the test's event loop."""

    def __init__(
        self, config: Config, mcp: MCPFileConfig | None = None, clock: Clock | None = None
    ) -> None:
        from src.channels.telegram.service import TelegramService

        self.config = config
        self.service = TelegramService(config, mcp, clock=clock or SYSTEM_CLOCK)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[int] | None = None

    async def start(self, telegram: FakeTelegram) -> None:
        before = len(telegram.get_updates_calls())
        self.task = asyncio.create_task(self.service.run(self.stop_event))
        if self.config.telegram.mode == "webhook":
            await wait_until(
                lambda: self.receiving or self.task.done(),  # type: ignore[union-attr]
                timeout=10,
                message="the bot never took webhook updates",
            )
        else:
            await wait_until(
                lambda: len(telegram.get_updates_calls()) > before or self.task.done(),  # type: ignore[union-attr]
                timeout=10,
                message="the bot never polled",
            )
        if self.task.done():
            raise AssertionError(f"the bot stopped at start-up with code {self.task.result()}")

    @property
    def receiving(self) -> bool:
        """Webhook mode: the webhook takes updates (and, with SQS, the consumer receives)."""
        receiver, consumer = self.service.receiver, self.service.consumer
        if receiver is None or receiver.updates is None:
            return False
        return consumer is None or consumer.last_receive is not None

    async def stop(self) -> int:
        if self.task is None:
            return 0
        self.stop_event.set()
        code = await asyncio.wait_for(self.task, timeout=15)
        self.task = None
        return code


class BotProcess:
    """`python telegram_bot.py --config ...` as a child process, its output in a log file."""

    def __init__(
        self, config_path: Path, env: dict[str, str], tmp_path: Path, mcp_path: Path | None = None
    ) -> None:
        self.log_path = tmp_path / f"bot-{id(self)}.log"
        self._log = self.log_path.open("wb")
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        mcp_args = ["--mcp-config", str(mcp_path)] if mcp_path else []
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "telegram_bot.py"),
                "--config",
                str(config_path),
                *mcp_args,
            ],
            cwd=tmp_path,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_polling(self, telegram: FakeTelegram, after: int = 0, timeout: float = 20) -> None:
        wait_until_sync(
            lambda: len(telegram.get_updates_calls()) > after or self.process.poll() is not None,
            timeout=timeout,
            message="the bot process never polled",
        )
        if self.process.poll() is not None:
            raise AssertionError(f"bot exited with {self.process.returncode}:\n{self.log}")

    def wait_consuming(self, health_url: str, timeout: float = 30) -> None:
        """Webhook mode: until /healthz says this process takes and consumes updates."""

        def consuming() -> bool:
            if self.process.poll() is not None:
                return True
            try:
                with urllib.request.urlopen(f"{health_url}/healthz", timeout=2) as response:
                    return bool(json.loads(response.read()).get("consuming"))
            except (OSError, ValueError):
                return False

        wait_until_sync(consuming, timeout=timeout, message="the bot process never consumed")
        if self.process.poll() is not None:
            raise AssertionError(f"bot exited with {self.process.returncode}:\n{self.log}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 15) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()
