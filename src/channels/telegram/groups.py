"""Which messages the bot answers in groups, and the context a reply quotes."""

from __future__ import annotations

import re

from telegram import Message, MessageEntity

MAX_QUOTE_CHARS = 1000


def addressed_text(message: Message, username: str, bot_id: int, mode: str) -> str | None:
    """The text to answer, with the @mention removed; None when the bot should stay silent.

    Private chats are always answered. In groups: `off` never, `all` always, `mention` only
    when the bot is @mentioned, replied to, or commanded (commands are routed elsewhere).
    """
    text = message.text or message.caption or ""  # a photo's caption speaks for it
    if message.chat.type == "private":
        return text
    if mode == "off":
        return None
    mention = f"@{username}".lower()
    mentioned = False
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    entities = (
        message.parse_entities(kinds) if message.text else message.parse_caption_entities(kinds)
    )
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == mention:
            mentioned = True
        elif entity.user is not None and entity.user.id == bot_id:
            mentioned = True
    if mode == "all" or mentioned or replies_to_bot(message, bot_id):
        pattern = re.compile(re.escape(f"@{username}"), re.IGNORECASE)
        return " ".join(pattern.sub("", text).split())
    return None


def with_reply_context(message: Message, text: str) -> str:
    """Prefix the text the user replied to (or quoted), so the model sees what they mean."""
    quoted = _quoted(message)
    if not quoted:
        return text
    if len(quoted) > MAX_QUOTE_CHARS:
        quoted = quoted[:MAX_QUOTE_CHARS] + "…"
    return f'[In reply to: "{quoted}"]\n{text}'


def _quoted(message: Message) -> str:
    if message.quote is not None and message.quote.text:
        return message.quote.text
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return ""  # in forum topics every message "replies" to the topic's first message
    return replied.text or replied.caption or ""


def replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return False
    return replied.from_user is not None and replied.from_user.id == bot_id
