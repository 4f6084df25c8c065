"""The event loop the bot runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv, the loop behind uvicorn) runs the same asyncio code with about a fifth less
CPU per turn here (bench/e2e.py overhead): a turn wakes the loop some thirty times, for
sockets and worker-thread results, and each wake-up costs less. It has no Windows build;
there, and wherever it is missing, the standard loop runs the bot unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """A function that makes a new event loop of the preferred kind."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the preferred loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
