"""What a photo or a document turn says to the model: the photos' caption and image
references (photos.py fetches them now, so a failure is told at once and the request finds
them in the cache), or the document's extracted text (documents.py). Either way the user is
told plainly when there is nothing to send, and the turn ends there.
"""

from __future__ import annotations

import asyncio
import logging

from src.channels.telegram import texts
from src.channels.telegram.documents import TelegramDocuments
from src.channels.telegram.photos import TelegramImages
from src.channels.telegram.replies import say
from src.channels.telegram.sender import Sender, Target
from src.conversation.images import IMAGES_KEY, NOTE_KEY
from src.conversation.visible import is_blank
from src.errors import DocumentError, VisionError
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

Prepared = tuple[str, dict[str, object]]  # the turn's text, and what its message keeps


class Attachments:
    KINDS = ("photo", "document")

    def __init__(
        self,
        sender: Sender,
        photos: TelegramImages | None = None,  # vision.enabled
        documents: TelegramDocuments | None = None,  # documents.enabled
    ) -> None:
        self.sender = sender
        self.photos = photos
        self.documents = documents

    async def prepare(
        self, conversation_id: str, target: Target, item: InboxItem
    ) -> Prepared | None:
        """The text and metadata of a photo or document turn; None after telling why not."""
        if item.kind == "photo":
            return await self._photos(conversation_id, target, item)
        return await self._document(conversation_id, target, item)

    async def _photos(
        self, conversation_id: str, target: Target, item: InboxItem
    ) -> Prepared | None:
        refs = item.extra.get(IMAGES_KEY)
        if self.photos is None or not isinstance(refs, list) or not refs:
            await say(self.sender, conversation_id, target, texts.VISION_OFF)
            return None
        try:
            fetched = [ref for _, ref in await asyncio.gather(*map(self.photos.fetch, refs))]
        except VisionError as exc:
            logger.info("conversation %s: image not taken: %s", conversation_id, exc)
            await say(self.sender, conversation_id, target, str(exc))
            return None
        metadata: dict[str, object] = {IMAGES_KEY: [dict(ref) for ref in fetched]}
        if not is_blank(item.text):
            return item.text, metadata
        metadata[NOTE_KEY] = True
        what = "A photo" if len(refs) == 1 else f"{len(refs)} photos"
        return f"({what}, no caption.)", metadata

    async def _document(
        self, conversation_id: str, target: Target, item: InboxItem
    ) -> Prepared | None:
        if self.documents is None:  # documents.enabled went off since it was accepted
            await say(self.sender, conversation_id, target, texts.UNSUPPORTED)
            return None
        try:
            document = await self.documents.turn(conversation_id, item)
        except DocumentError as exc:
            logger.info("conversation %s: document not read: %s", conversation_id, exc)
            await say(self.sender, conversation_id, target, str(exc))
            return None
        return document.text, {"document": document.metadata}
