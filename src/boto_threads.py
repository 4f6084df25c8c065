"""A boto3 client made and called in its own thread pool: boto3 blocks, and the event loop
must not. The DynamoDB store (src/store/dynamodb/client.py) and the SQS queue
(src/queue/sqs.py) build on it; boto3 is imported by their `_make_client`, in a worker
thread, when they open.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

POOL_SIZE = 10  # worker threads == botocore max_pool_connections


class ThreadedClient:
    thread_name = "boto"

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._client: Any = None

    async def start(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix=self.thread_name)
        if self._client is None:
            self._client = await self.run(self._make_client)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        client, self._client = self._client, None
        if executor is None:
            return
        if client is not None:
            await asyncio.get_running_loop().run_in_executor(executor, client.close)
        await asyncio.to_thread(executor.shutdown, True)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` in one of the client's threads."""
        if self._executor is None:
            raise self._not_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def _make_client(self) -> Any:  # in a worker thread
        raise NotImplementedError

    def _not_open(self) -> Exception:
        raise NotImplementedError
