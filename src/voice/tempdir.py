"""One private temporary directory for audio files; every file in it is removed after use.

File-system calls run in worker threads (aiofiles), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiofiles.os

logger = logging.getLogger(__name__)


class PrivateTempDir:
    def __init__(self, prefix: str = "assistant-voice-") -> None:
        self.prefix = prefix
        self.path: Path | None = None

    async def directory(self) -> Path:
        if self.path is None or not await aiofiles.os.path.isdir(self.path):
            # mkdtemp creates the directory with mode 0700
            self.path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=self.prefix))
        return self.path

    @contextlib.asynccontextmanager
    async def files(self, *suffixes: str) -> AsyncIterator[list[Path]]:
        """Fresh file paths (not created) that are deleted when the block ends."""
        directory = await self.directory()
        paths = [directory / f"{uuid.uuid4().hex}{suffix}" for suffix in suffixes]
        try:
            yield paths
        finally:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    await aiofiles.os.remove(path)

    async def cleanup(self) -> None:
        if self.path is not None:
            await asyncio.to_thread(shutil.rmtree, self.path, True)
            self.path = None
