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
        for chunk, chunk_entities in split(text, entities, limit)
    ]


def split(
    text: str, entities: list[telegramify_markdown.MessageEntity], limit: int = MAX_UTF16
) -> list[tuple[str, list[telegramify_markdown.MessageEntity]]]:
    """Chunks of at most `limit` UTF-16 units. A chunk ends at a paragraph break outside code
    when one falls in its second half; otherwise the library cuts at the last line break
    (clipping entities into both chunks)."""
    chunks = []
    start = 0
    while start < len(text):
        rest = text[start:]
        rest_entities = _shift(entities, utf16_len(text[:start]), utf16_len(rest))
        end = _paragraph_end(rest, rest_entities, limit)
        if end is None:
            pieces = telegramify_markdown.split_entities(rest, rest_entities, limit)
            if len(pieces) <= 1:
                chunks.extend(pieces)
                break
            end = len(pieces[0][0])
            chunks.append(pieces[0])
        else:
            chunk_entities = _shift(rest_entities, 0, utf16_len(rest[:end]))
            chunks.append((rest[:end], chunk_entities))
        start += end
    return [(chunk, ents) for chunk, ents in chunks if chunk.strip()]


def _paragraph_end(
    text: str, entities: list[telegramify_markdown.MessageEntity], limit: int
) -> int | None:
    if utf16_len(text) <= limit:
        return None
    code = [(e.offset, e.offset + e.length) for e in entities if e.type in ("pre", "code")]
    best = None
    position = text.find("\n\n")
    while position != -1:
        end = position + 2
        units = utf16_len(text[:end])
        if units > limit:
            break
        if units >= limit // 2 and not any(a < units < b for a, b in code):
            best = end
        position = text.find("\n\n", end)
    return best


def _shift(
    entities: list[telegramify_markdown.MessageEntity], start: int, length: int
) -> list[telegramify_markdown.MessageEntity]:
    """Entities clipped to [start, start + length) and made relative to `start`."""
    result = []
    for entity in entities:
        begin = max(entity.offset, start)
        end = min(entity.offset + entity.length, start + length)
        if end > begin:
            result.append(entity.copy_with(offset=begin - start, length=end - begin))
    return result


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
