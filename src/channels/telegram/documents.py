"""Documents on Telegram: what the inbox keeps, the checks before a download, the download,
and the turn's text (src/documents/ reads the file).

The inbox item keeps the file id, name, type and size, never the bytes: a document
accepted before a restart is downloaded again when its turn comes.
"""

from __future__ import annotations

import logging

from telegram import Bot, Document

from src.channels.telegram.files import TELEGRAM_DOWNLOAD_LIMIT, download, too_big_for_telegram
from src.config import DocumentsConfig
from src.documents.reader import SNIFF_MAX_BYTES, DocumentReader, DocumentTurn
from src.errors import DocumentError
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

ASK_SMALLER = "Could you send a smaller file, or paste the part you need as text?"


def document_extra(document: Document) -> dict[str, object]:
    """What the inbox keeps about a document until its turn (no file content)."""
    return {
        "media": "document",
        "file_id": document.file_id,
        "file_name": document.file_name or "",
        "mime_type": document.mime_type,
        "file_size": document.file_size,
    }


class TelegramDocuments:
    def __init__(self, bot: Bot, config: DocumentsConfig) -> None:
        self.bot = bot
        self.reader = DocumentReader(config)

    async def turn(self, conversation_id: str, item: InboxItem) -> DocumentTurn:
        """The turn for a document item; DocumentError, with the user's message, when the
        file cannot be read (nothing is downloaded for a type or size that will not do)."""
        extra = item.extra
        name = str(extra.get("file_name") or "")
        mime = extra.get("mime_type")
        mime_type = mime if isinstance(mime, str) else None
        size = extra.get("file_size")
        size = size if isinstance(size, int) else None
        kind = self.reader.kind(name, mime_type, size)
        if size is not None and size > TELEGRAM_DOWNLOAD_LIMIT:
            raise DocumentError(too_big_for_telegram("file", ASK_SMALLER))
        cap = SNIFF_MAX_BYTES if kind == "sniff" else TELEGRAM_DOWNLOAD_LIMIT
        file_id = str(extra["file_id"])
        data = await download(self.bot, file_id, DocumentError, "file", ASK_SMALLER, cap)
        logger.info("conversation %s: document of %d bytes (%s)", conversation_id, len(data), kind)
        return await self.reader.turn(data, kind, name or "file", mime_type, item.text)
