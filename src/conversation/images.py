"""Images in the history: stored as references, sent as data URLs while they are recent.

A photo's user message keeps its caption (or a short note) as its text, and under
`metadata["images"]` one reference per image: the channel's file id and what is known of it
(`file_id`, `size`, `mime_type`, `width`, `height`), never the bytes, so a stored line stays
small. When a request is built, an image is sent in the turn it arrived in and in the next
`vision.keep_turns` turns (counted in user messages): its reference is turned into a data URL
by the channel's `ImageSource` (Telegram downloads it again by file id after a restart). After
that, or when the endpoint said the model takes no images (a `no_images` window record,
src/conversation/window.py), or when no image source can fetch it, the message is sent as a
short text stand-in instead (`[photo: caption]`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from src.conversation.message import ImagePart, Message
from src.conversation.window import COMPACTION, NO_IMAGES, is_compaction
from src.errors import AssistantError

logger = logging.getLogger(__name__)

IMAGES_KEY = "images"  # in a user message's metadata: the image references
NOTE_KEY = "image_note"  # True: the message text is our note, not the user's caption
ALWAYS = -1  # keep_turns: every request carries the image


class ImageSource(Protocol):
    """Turns a stored image reference into a `data:image/...;base64,` URL (the channel's
    job: it knows where the file is). Raises AssistantError when it cannot."""

    async def data_url(self, ref: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class Vision:
    """What a window needs to send images: where they come from and for how long."""

    source: ImageSource | None  # None: images are never sent, only their stand-ins
    keep_turns: int = 2  # ALWAYS (-1): in every request
    detail: str = "auto"


def image_refs(message: Message) -> list[Mapping[str, Any]]:
    refs = message.metadata.get(IMAGES_KEY) if message.role == "user" else None
    return [r for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []


def stand_in(message: Message) -> str:
    """The text a message with images is sent as once its images are no longer sent."""
    count = len(image_refs(message))
    what = "photo" if count == 1 else f"{count} photos"
    caption = "" if message.metadata.get(NOTE_KEY) else (message.content or "").strip()
    return f"[{what}: {caption}]" if caption else f"[{what}]"


def image_tokens(width: object, height: object, detail: str) -> int:
    """OpenAI's published cost of one image: 85 tokens at low detail; at high, 85 plus 170
    per 512-pixel tile once the image is fitted in 2048x2048 and its short side in 768.
    Unknown sizes count as 1024x1024."""
    if detail == "low":
        return 85
    w = float(width) if isinstance(width, int | float) and width > 0 else 1024.0
    h = float(height) if isinstance(height, int | float) and height > 0 else 1024.0
    scale = min(1.0, 2048 / max(w, h))
    w, h = w * scale, h * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


async def with_images(
    body: Sequence[Message], recent: Sequence[Message], vision: Vision, conversation_id: str
) -> list[Message]:
    """`body` (a window's messages, taken from `recent`) ready to send: each user message
    with images carries them (a copy with `images` set) or its stand-in text."""
    if not any(IMAGES_KEY in m.metadata for m in body):
        return list(body)
    ages = _ages(recent)
    refused_before = _last_no_images(recent)
    result: list[Message] = []
    for message in body:
        refs = image_refs(message)
        if not refs:
            result.append(message)
            continue
        age, position = ages.get(id(message), (math.inf, -1))
        recent_enough = vision.keep_turns == ALWAYS or age <= vision.keep_turns
        parts: list[ImagePart] | None = None
        if vision.source is not None and recent_enough and position > refused_before:
            parts = await _parts(vision, refs, conversation_id)
        if parts:
            result.append(replace(message, images=tuple(parts)))
        else:
            result.append(replace(message, content=stand_in(message)))
    return result


async def _parts(
    vision: Vision, refs: list[Mapping[str, Any]], conversation_id: str
) -> list[ImagePart] | None:
    """The images of one message, or None (then its stand-in is sent) if one cannot be had."""
    assert vision.source is not None
    try:
        urls = await asyncio.gather(*(vision.source.data_url(ref) for ref in refs))
    except AssistantError as exc:
        logger.warning(
            "conversation %s: an earlier image could not be fetched (%s); sending its "
            "text stand-in",
            conversation_id,
            exc,
        )
        return None
    return [
        ImagePart(
            url, vision.detail, image_tokens(ref.get("width"), ref.get("height"), vision.detail)
        )
        for url, ref in zip(urls, refs, strict=True)
    ]


def _ages(recent: Sequence[Message]) -> dict[int, tuple[int, int]]:
    """For each user message of `recent` (by object id): how many user messages came after
    it, and its index."""
    result: dict[int, tuple[int, int]] = {}
    later = 0
    for index in range(len(recent) - 1, -1, -1):
        message = recent[index]
        if message.role == "user":
            result[id(message)] = (later, index)
            later += 1
    return result


def _last_no_images(recent: Sequence[Message]) -> int:
    """The index of the newest `no_images` record (-1 if none)."""
    for index in range(len(recent) - 1, -1, -1):
        message = recent[index]
        if is_compaction(message):
            details = message.metadata.get(COMPACTION)
            if isinstance(details, dict) and details.get("kind") == NO_IMAGES:
                return index
    return -1
