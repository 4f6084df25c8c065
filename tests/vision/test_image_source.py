"""The Telegram image source against the local Telegram server: downloads by file id, keeps
data URLs in a cache bounded in bytes, and says plainly what went wrong."""

from __future__ import annotations

import base64

import pytest
from telegram import Bot

from src.channels.telegram.photos import TelegramImages
from src.config import VisionConfig
from src.errors import VisionError
from tests.peers.telegram_server import FakeTelegram
from tests.vision.images import picture


def ref_of(file_id: str) -> dict[str, object]:
    return {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": None, "height": None}


async def test_data_urls_are_cached_within_their_byte_bound(telegram: FakeTelegram) -> None:
    images = [picture(200, 150, seed=n) for n in range(3)]
    ids = [telegram.add_file(data) for data in images]
    async with Bot(
        telegram.token,
        base_url=f"{telegram.url}/bot",
        base_file_url=f"{telegram.url}/file/bot",
    ) as bot:
        one_url = len(base64.b64encode(images[0])) + 40
        source = TelegramImages(bot, VisionConfig(), cache_bytes=2 * one_url)
        url, ref = await source.fetch(ref_of(ids[0]))
        assert base64.b64decode(url.split(",", 1)[1]) == images[0]  # sent as it is
        assert (ref["width"], ref["height"], ref["mime_type"]) == (200, 150, "image/jpeg")
        assert await source.data_url(ref_of(ids[0])) == url
        assert source.downloads == 1  # the second came from the cache
        await source.data_url(ref_of(ids[1]))
        await source.data_url(ref_of(ids[2]))  # the first no longer fits
        await source.data_url(ref_of(ids[2]))
        assert source.downloads == 3
        await source.data_url(ref_of(ids[0]))
        assert source.downloads == 4

        with pytest.raises(VisionError) as caught:
            await source.data_url(ref_of("no-such-file"))
        assert str(caught.value) == "I couldn't download that image from Telegram."
