"""Conversation ids for Telegram messages (DESIGN.md: chat id, or chat:thread in topics)."""

from __future__ import annotations

from telegram import Message


def conversation_id(message: Message) -> str:
    if message.is_topic_message and message.message_thread_id is not None:
        return f"{message.chat_id}:{message.message_thread_id}"
    return str(message.chat_id)


def thread_id(message: Message) -> int | None:
    if message.is_topic_message and message.message_thread_id is not None:
        return message.message_thread_id
    return None
