"""The conversation pages' data: a page of the listing, and one history as display items.

Reads go through the conversation store's interface only: `list_conversations(limit,
offset)` for a page (newest first) and `load_recent` for a history's tail, so no page holds
more than it shows. Text is handed to the templates as it is; Jinja2's autoescape makes it
inert.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from src.conversation.message import Message
from src.store.conversations import ConversationStore

PAGE_SIZE = 50
PREVIEW_CHARS = 120
HISTORY_STEP = 200  # messages shown at first, and added by "older"
MAX_HISTORY = 5000


@dataclass(frozen=True)
class Row:
    conversation_id: str
    updated_at: float
    last_role: str = ""
    preview: str = ""


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    page: int
    has_next: bool
    query: str = ""


@dataclass
class Item:
    """One message as the page shows it."""

    role: str
    at: float
    text: str = ""  # the message's text ("" when it has none)
    label: str = ""  # what it was: "[photo: caption]", "[voice note, 12 s]", ...
    folded: list[tuple[str, str]] = field(default_factory=list)  # (summary, body) <details>
    notes: list[str] = field(default_factory=list)  # agent, model, tokens, user id


async def listing(store: ConversationStore, page: int, query: str = "") -> Listing:
    """One page of conversations, newest first; with `query`, the conversation of that id
    (a user's private chat has the user's id)."""
    if query:
        recent = await store.load_recent(query, 1)
        rows = [_row(query, recent[-1].created_at, recent)] if recent else []
        return Listing(rows, 0, False, query)
    found = await store.list_conversations(limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
    shown = found[:PAGE_SIZE]
    tails = await asyncio.gather(*(store.load_recent(info.conversation_id, 1) for info in shown))
    rows = [
        _row(info.conversation_id, info.updated_at, tail)
        for info, tail in zip(shown, tails, strict=True)
    ]
    return Listing(rows, page, len(found) > PAGE_SIZE)


def _row(conversation_id: str, updated_at: float, tail: list[Message]) -> Row:
    if not tail:
        return Row(conversation_id, updated_at)
    last = tail[-1]
    item = to_item(last)
    text = item.label or item.text or (item.folded[0][0] if item.folded else "")
    return Row(conversation_id, updated_at, last.role, _short(text, PREVIEW_CHARS))


async def history(store: ConversationStore, conversation_id: str, shown: int) -> list[Item]:
    """The last `shown` messages of a conversation as display items, oldest first."""
    messages = await store.load_recent(conversation_id, min(max(shown, 1), MAX_HISTORY))
    return [to_item(message) for message in messages]


def to_item(message: Message) -> Item:
    meta = message.metadata
    item = Item(message.role, message.created_at, message.content or "")
    photos = _photos(meta, item.text)
    if photos:
        item.label, item.text = photos, ""  # the caption is in the label (or was our note)
    else:
        item.label = _label(meta)
    if message.role == "assistant":
        for call in message.tool_calls or []:
            function = call.get("function") or {}
            name = str(function.get("name", "?"))
            item.folded.append((f"tool call: {name}", _pretty(function.get("arguments", ""))))
        for key in ("agent", "model"):
            if meta.get(key):
                item.notes.append(f"{key} {meta[key]}")
        usage = meta.get("usage")
        if isinstance(usage, dict):
            tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
            item.notes.append(f"{tokens:,} tokens")
    elif message.role == "tool":
        name = str(meta.get("tool") or message.name or "tool")
        error = " (error)" if meta.get("is_error") else ""
        item.folded.append((f"result of {name}{error}", item.text))
        item.text = ""
    elif message.role == "system" and item.text:
        item.folded.append(("summary of the earlier conversation", item.text))
        item.text = ""
    elif message.role == "user":
        if meta.get("user_id") is not None:
            item.notes.append(f"user {meta['user_id']}")
        if meta.get("scheduled"):
            item.notes.append("scheduled task")
    return item


def _photos(meta: dict[str, Any], text: str) -> str:
    """ "[photo: caption]" for a message with photos, else "". Their references are kept
    under "images" (src/conversation/images.py), the caption as the text unless
    "image_note" says the text is the bot's own note."""
    images = meta.get("images") or meta.get("photo") or meta.get("image")
    if not images:
        return ""
    count = len(images) if isinstance(images, list) else 1
    what = "photo" if count == 1 else f"{count} photos"
    caption = "" if meta.get("image_note") else (_caption(images) or text)
    return f"[{what}: {_short(caption, 200)}]" if caption.strip() else f"[{what}]"


def _label(meta: dict[str, Any]) -> str:
    """What else a message carried, from its metadata: a document, a voice note."""
    document = meta.get("document")
    if document:
        name = document.get("file_name") if isinstance(document, dict) else None
        return f"[document: {name}]" if name else "[document]"
    voice = meta.get("voice")
    if voice:
        seconds = voice.get("duration") if isinstance(voice, dict) else None
        kind = voice.get("media") if isinstance(voice, dict) else None
        what = "voice note" if kind in (None, "voice") else str(kind)
        return f"[{what}, {seconds} s]" if isinstance(seconds, int | float) else f"[{what}]"
    return ""


def _caption(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("caption") or "")
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return str(value[0].get("caption") or "")
    return ""


def _pretty(arguments: Any) -> str:
    """Tool call arguments, indented when they are JSON."""
    if not isinstance(arguments, str):
        return json.dumps(arguments, ensure_ascii=False, indent=2)
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
    except ValueError:
        return arguments


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
