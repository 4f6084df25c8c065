"""Markdown from the model -> Telegram text + MessageEntity parts of at most 4096 UTF-16 units.

telegramify-markdown does the conversion (no parse_mode escaping by hand). Only `convert` is
used: it keeps mermaid blocks as `pre` code and never fetches anything from the internet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import telegramify_markdown
from telegram import MessageEntity

logger = logging.getLogger(__name__)

MAX_UTF16 = 4096


@dataclass(frozen=True)
class Part:
    """One Telegram message worth of text and its entities."""

    text: str
    entities: tuple[MessageEntity, ...] = ()

    def plain(self) -> Part:
        return Part(self.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render(markdown: str, limit: int = MAX_UTF16) -> list[Part]:
    """Formatted parts; falls back to plain text if the converter fails on odd input."""
    if not markdown.strip():
        return []
    try:
        text, entities = telegramify_markdown.convert(markdown)
    except Exception:  # a converter bug must not cost the user the answer
        logger.warning("markdown conversion failed; sending plain text", exc_info=True)
        return plain_parts(markdown, limit)
    return [
        Part(chunk, tuple(_to_ptb(e) for e in chunk_entities))
        for chunk, chunk_entities in telegramify_markdown.split_entities(text, entities, limit)
    ]


def plain_parts(text: str, limit: int = MAX_UTF16) -> list[Part]:
    return [Part(chunk) for chunk, _ in telegramify_markdown.split_entities(text, [], limit)]


def _to_ptb(entity: telegramify_markdown.MessageEntity) -> MessageEntity:
    return MessageEntity(
        type=entity.type,
        offset=entity.offset,
        length=entity.length,
        url=entity.url,
        language=entity.language,
        custom_emoji_id=entity.custom_emoji_id,
    )
