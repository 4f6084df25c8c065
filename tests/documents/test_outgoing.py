"""The Telegram side of files back, against the local Telegram server with the bot's own
Application: what the outbox refused is said to the user, a chat that blocked the bot gets
nothing more, and the limits are Telegram's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from src.channels.telegram.app import build_application
from src.channels.telegram.outgoing import DOCUMENT_LIMIT, PHOTO_LIMIT, FileSender, telegram_outbox
from src.channels.telegram.sender import Sender, Target
from src.config import Config
from src.tools.outbox import OutgoingFile
from tests.harness import OWNER
from tests.peers.telegram_server import FakeTelegram


@pytest.fixture
async def files(telegram: FakeTelegram) -> AsyncIterator[FileSender]:
    config = Config.model_validate(
        {
            "telegram": {"bot_token": telegram.token, "api_base_url": telegram.url},
            "llm": {"api_key": "k"},
        }
    )
    application = build_application(config)
    await application.initialize()
    try:
        yield FileSender(application.bot, Sender(application.bot))
    finally:
        await application.shutdown()


async def test_a_file_over_telegrams_limit_is_named_to_the_user(
    telegram: FakeTelegram, files: FileSender
) -> None:
    outbox = telegram_outbox()
    assert (outbox.max_photo_bytes, outbox.max_document_bytes) == (PHOTO_LIMIT, DOCUMENT_LIMIT)
    huge = OutgoingFile("video.mp4", "video/mp4", bytes(DOCUMENT_LIMIT + 1024 * 1024))
    small = OutgoingFile("a.png", "image/png", b"\x89PNG")
    assert outbox.offer(huge) == (
        "[file not sent: video.mp4 is 51.0 MB, over the 50.0 MB the chat takes; the user was told]"
    )
    outbox.offer(small)
    await files.deliver("c", Target(OWNER), outbox)
    assert telegram.uploaded_names(OWNER) == [("sendPhoto", "a.png")]
    assert telegram.texts(OWNER) == [
        "A tool made a file I can't send you here: video.mp4 is 51.0 MB, and this chat takes "
        "files up to 50.0 MB."
    ]


async def test_a_chat_that_blocked_the_bot_gets_no_more_attempts(
    telegram: FakeTelegram, files: FileSender
) -> None:
    telegram.fail_next("sendDocument", 403, "Forbidden: bot was blocked by the user")
    outbox = telegram_outbox()
    outbox.offer(OutgoingFile("a.csv", "text/csv", b"a,b"))
    await files.deliver("c", Target(OWNER), outbox)
    assert len(telegram.calls("sendDocument")) == 1
    assert telegram.calls("sendMessage") == []  # no "couldn't send" into a blocked chat
