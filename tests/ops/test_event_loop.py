"""The event loop the bot runs on, and that the tests run on the same one."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from src.ops import event_loop


def test_the_bot_runs_on_uvloop() -> None:
    async def kind() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert event_loop.run(kind()) is uvloop.Loop


def test_without_uvloop_the_standard_loop_runs_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what `import uvloop` sees on Windows

    async def kind() -> type[asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert not issubclass(event_loop.run(kind()), uvloop.Loop)
    assert event_loop.loop_factory() is asyncio.new_event_loop


async def test_async_tests_run_on_the_bot_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
