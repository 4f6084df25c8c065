"""Photos on Telegram: which file to take, and the image source that fetches it by file id.

The handler stores a reference (`image_ref`: file id, size, type, dimensions), never the
bytes. `TelegramImages` is the conversation's `ImageSource` (src/conversation/images.py): it
downloads a file by its id, makes it ready for the model in a worker thread
(src/vision/prepare.py) and keeps the data URL in a small cache bounded in bytes, so the
few requests that carry an image after it arrived do not download it again (after a restart
they do, by file id).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from telegram import Bot, Message

from src.channels.telegram.files import TELEGRAM_DOWNLOAD_LIMIT_MB, download
from src.config import VisionConfig
from src.errors import VisionError
from src.vision.prepare import PreparedImage, max_side_for, prepare

logger = logging.getLogger(__name__)

CACHE_BYTES = 64 * 2**20  # data URLs kept in memory, newest used first

ASK_SMALLER = "Could you send a smaller one (as a photo, not a file)?"
TOO_BIG_FOR_TELEGRAM = (
    "That image is {size}, and Telegram lets bots download files up to "
    f"{TELEGRAM_DOWNLOAD_LIMIT_MB} MB. {ASK_SMALLER}"
)
TOO_BIG = (
    "That image is {size}; I can take images up to {limit:g} MB. Could you send a smaller one?"
)


def image_ref(message: Message, max_image_mb: float) -> dict[str, Any] | str:
    """The reference to store for a photo or an image sent as a file: the largest size
    within the limits. A string instead: why it cannot be taken (for the user)."""
    limit = min(max_image_mb, TELEGRAM_DOWNLOAD_LIMIT_MB) * 1_000_000
    if message.photo:
        sizes = sorted(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        fitting = [p for p in sizes if p.file_size is None or p.file_size <= limit]
        if not fitting:
            return too_big(sizes[0].file_size or 0, max_image_mb)
        best = fitting[-1]
        return {
            "file_id": best.file_id,
            "file_unique_id": best.file_unique_id,
            "size": best.file_size,
            "mime_type": "image/jpeg",  # Telegram re-encodes photos as JPEG
            "width": best.width,
            "height": best.height,
        }
    document = message.document
    assert document is not None, "only photos and image documents come here"
    size = document.file_size
    if size is not None and size > limit:
        return too_big(size, max_image_mb)
    return {
        "file_id": document.file_id,
        "file_unique_id": document.file_unique_id,
        "size": size,
        "mime_type": document.mime_type or "image/jpeg",
        "width": None,  # known once it is downloaded
        "height": None,
    }


def too_big(size_bytes: int, max_image_mb: float) -> str:
    megabytes = round(size_bytes / 1_000_000, 1)
    size = f"{megabytes:g} MB" if megabytes else "too big"
    if size_bytes > TELEGRAM_DOWNLOAD_LIMIT_MB * 1_000_000:
        return TOO_BIG_FOR_TELEGRAM.format(size=size)
    return TOO_BIG.format(size=size, limit=max_image_mb)


class TelegramImages:
    """Image references in, data URLs out (the conversation's ImageSource)."""

    def __init__(self, bot: Bot, config: VisionConfig, cache_bytes: int = CACHE_BYTES) -> None:
        self.bot = bot
        self.config = config
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cached = 0
        self.downloads = 0  # files fetched from Telegram (for the metrics and the benches)

    async def data_url(self, ref: Mapping[str, Any]) -> str:
        return (await self.fetch(ref))[0]

    async def fetch(self, ref: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The image's data URL and its reference brought up to date (the size and type
        that are sent). Raises VisionError with a message for the user."""
        key = str(ref.get("file_unique_id") or ref.get("file_id"))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached, ref
        data = await self._download(str(ref["file_id"]))
        max_side = max_side_for(self.config.detail)
        image, url = await asyncio.to_thread(_prepared_url, data, max_side)
        self._remember(key, url)
        if image.reencoded:
            logger.info(
                "image %s re-encoded: %d -> %d bytes, %dx%d",
                key,
                len(data),
                len(image.data),
                image.width,
                image.height,
            )
        updated = {**ref, "mime_type": image.mime_type, "width": image.width}
        updated["height"] = image.height
        return url, updated

    def _remember(self, key: str, url: str) -> None:
        if len(url) > self.cache_bytes:
            return
        previous = self._cache.pop(key, None)  # two turns fetched it at once
        self._cached -= len(previous or "")
        self._cache[key] = url
        self._cached += len(url)
        while self._cached > self.cache_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._cached -= len(dropped)

    async def _download(self, file_id: str) -> bytes:
        data = await download(self.bot, file_id, VisionError, "image", ASK_SMALLER)
        self.downloads += 1
        return data


def _prepared_url(data: bytes, max_side: int) -> tuple[PreparedImage, str]:
    """In a worker thread: the prepared image and its data URL."""
    image = prepare(data, max_side)
    encoded = base64.b64encode(image.data).decode("ascii")
    return image, f"data:{image.mime_type};base64,{encoded}"
