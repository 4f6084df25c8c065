"""Handlers for what is not text: recordings (voice.py transcribes them in the lane),
photos (photos.py; an album's parts become one turn in the intake) and documents
(documents.py). Each stores a reference to the file now, never its bytes.
"""

from __future__ import annotations

from telegram import Update

from src.channels.telegram import texts
from src.channels.telegram.documents import document_extra
from src.channels.telegram.front import Context, Front, accept, admit, notice, silent
from src.channels.telegram.groups import addressed_text, with_reply_context
from src.channels.telegram.photos import image_ref
from src.channels.telegram.sender import as_seconds
from src.channels.telegram.voice import media_extra
from src.conversation.visible import is_blank


async def recording(front: Front, update: Update, context: Context) -> None:
    """Voice notes, audio files, round videos: stored as pending (the file id) now,
    transcribed in the lane."""
    message = update.effective_message
    if message is None or silent(front, message, context) or not admit(front, update):
        return
    if not front.voice_enabled:
        notice(front, update, texts.TEXT_ONLY)
        return
    kind = "voice" if message.voice else "audio" if message.audio else "video_note"
    media = message.voice or message.audio or message.video_note
    assert media is not None
    seconds = None if media.duration is None else int(as_seconds(media.duration))
    mime = getattr(media, "mime_type", None)
    extra = media_extra(kind, media.file_id, seconds, media.file_size, mime)
    caption = "" if is_blank(message.caption) else message.caption or ""
    await accept(front, update, "voice", caption, extra)


async def photo(front: Front, update: Update, context: Context) -> None:
    """A photo or an image file: stored as a reference (the file id) now, downloaded in the
    lane. Each part of an album is its own update; the intake makes them one turn."""
    message = update.effective_message
    if message is None:
        return
    bot = context.bot
    said = addressed_text(message, bot.username, bot.id, front.group_mode)
    if said is None or not admit(front, update):
        return
    ref = image_ref(message, front.max_image_mb) if front.vision_enabled else texts.VISION_OFF
    if isinstance(ref, str):  # off, or too big to take: said once for an album
        if front.album_notices.first(message.media_group_id):
            notice(front, update, ref)
        return
    extra: dict[str, object] = {"images": [ref]}
    if message.media_group_id:
        extra["media_group"] = message.media_group_id
    caption = "" if is_blank(said) else with_reply_context(message, said)
    await accept(front, update, "photo", caption, extra)


async def document(front: Front, update: Update, context: Context) -> None:
    """A file: stored as pending (its file id, name, type, size) now, read in the lane."""
    message, bot = update.effective_message, context.bot
    if message is None or message.document is None:
        return
    said = addressed_text(message, bot.username, bot.id, front.group_mode)  # as for a photo
    if said is not None and admit(front, update):
        caption = said or message.caption or ""
        caption = "" if is_blank(caption) else with_reply_context(message, caption)
        await accept(front, update, "document", caption, document_extra(message.document))
