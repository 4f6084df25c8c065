"""Shared fixtures: an isolated environment, the local peers, and bots wired to them."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from src.ops.event_loop import loop_factory
from src.store.file.conversations import FileStore
from src.store.file.records import SQLiteRecords
from tests.harness import BotRunner
from tests.peers.dynamodb import shared_endpoint, use_endpoint
from tests.peers.openai_server import FakeOpenAI
from tests.peers.telegram_server import FakeTelegram

# Variables our code or its libraries read; tests start from none of them.
_ISOLATED = (
    "TELEGRAM_BOT_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TELEGRAM_API_BASE_URL",
    "CONFIG_PATH",
    "MCP_CONFIG_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HEALTH_HOST",
    "ADMIN_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Async tests run on the event loop the bot runs on (uvloop where installed)."""
    return {"bot-loop": loop_factory()}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key="sk-test")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bots(
    tmp_path: Path, telegram: FakeTelegram, model: FakeOpenAI
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(tmp_path, telegram, model)
    try:
        yield runner
    finally:
        await runner.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FileStore]:
    """An opened file store in the test's directory (modules may define their own)."""
    store = FileStore(tmp_path / "store", fsync=True)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[SQLiteRecords]:
    """An opened records store (SQLite) in the `store` fixture's directory."""
    records = SQLiteRecords(tmp_path / "store", fsync=True)
    await records.open()
    yield records
    await records.close()


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto server (DynamoDB), with this test's environment pointing at it."""
    from tests.peers.dynamodb import shared_endpoint, use_endpoint

    url = shared_endpoint("moto")
    use_endpoint(monkeypatch, url)
    return url


@pytest.fixture
def table() -> str:
    """A fresh DynamoDB table name, so tests on a shared server never meet."""
    return f"ddb-{uuid.uuid4().hex[:12]}"


def pytest_report_header() -> str:
    return f"cwd: {os.getcwd()}"


@pytest.fixture(params=["file", "dynamodb"])
def bot_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Config overrides for the store a bot runs on: the file store, or DynamoDB on the
    session's moto with a fresh table."""
    if request.param == "file":
        return {}
    use_endpoint(monkeypatch, shared_endpoint("moto"))
    table = request.getfixturevalue("table")
    return {"store": {"type": "dynamodb", "dynamodb": {"table": table, "create_table": True}}}
