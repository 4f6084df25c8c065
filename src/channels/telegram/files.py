"""Downloading a user's file from Telegram, into memory, with a size cap.

Voice notes and documents come through here. The bytes stay in memory (nothing is written
under a name the user chose); the size Telegram reports is checked before the download and
the bytes after it. Failures raise the caller's UserInputError subclass with a message for
the user, naming Telegram's 20 MB limit for bots when that is what stands in the way.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from src.errors import UserInputError

logger = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT_MB = 20  # the Bot API's getFile refuses bigger files
TELEGRAM_DOWNLOAD_LIMIT = TELEGRAM_DOWNLOAD_LIMIT_MB * 1_000_000


def too_big_for_telegram(what: str, ask: str) -> str:
    return (
        f"Telegram lets bots download files up to {TELEGRAM_DOWNLOAD_LIMIT_MB} MB, and this "
        f"{what} is bigger. {ask}"
    ).strip()


async def download(
    bot: Bot,
    file_id: str,
    error: type[UserInputError],
    what: str = "file",
    ask: str = "",
    max_bytes: int = TELEGRAM_DOWNLOAD_LIMIT,
) -> bytes:
    """The file's bytes, at most `max_bytes` of them; `error(message for the user)` when
    it cannot be had. `what` names the file in messages ("recording"), `ask` is the request
    that follows a refusal for size ("Could you send a shorter recording?")."""
    too_big = too_big_for_telegram(what, ask)
    if max_bytes < TELEGRAM_DOWNLOAD_LIMIT:
        too_big = f"That {what} is over the {max_bytes / 1_000_000:g} MB I can take. {ask}".strip()
    try:
        file = await bot.get_file(file_id)
        if file.file_size is not None and file.file_size > max_bytes:
            raise error(too_big)
        data = bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise error(too_big_for_telegram(what, ask)) from exc
        logger.warning("getFile refused %s: %s", file_id, exc.message)
        raise error(f"I couldn't download that {what} from Telegram.") from exc
    except TelegramError as exc:
        logger.warning("download of %s failed: %s", file_id, exc)
        raise error(
            f"I couldn't download that {what} from Telegram just now. Please try again."
        ) from exc
    if len(data) > max_bytes:
        raise error(too_big)
    return data
