"""A remembered fact: its text made safe, its id, and how it is kept as a record.

A fact is short plain text that belongs to one user (the Telegram user id; the console's
operator is `CONSOLE_OWNER`). Its id is a hash of its normalised text, so the same fact said
twice ("My name is Ada." / "my name is ada") is one fact. It is kept as a record of kind
"fact" under the key "<owner>:<id>", with `user_id` set so a user's facts are found by the
records' user index, newest first.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from src.store.records import Record

KIND = "fact"
CONSOLE_OWNER = 0  # the console's operator (no Telegram user id is 0)
ID_CHARS = 12  # hex digits of the hash: 48 bits, no collision in a lifetime of facts
MIN_ID_PREFIX = 4  # /forget 3fa9 works when only one of the user's ids starts so

# Bidirectional overrides and isolates can make text read differently from what it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = re.compile(r"\s+")
_ID = re.compile(rf"[0-9a-f]{{{MIN_ID_PREFIX},{ID_CHARS}}}")


@dataclass(frozen=True)
class Fact:
    id: str
    text: str
    at: float  # when it was first remembered (seconds since the epoch)
    updated: float  # when it was last remembered (its place in "newest first")
    conversation: str = ""  # where it came from
    source: str = "tool"  # tool (the model was asked) | auto (proposed after a turn)

    @cached_property
    def line(self) -> str:
        """How the model sees it: one JSON object on one line (the text JSON-escaped)."""
        return json.dumps({"id": self.id, "fact": self.text}, ensure_ascii=False)


def clean(text: str) -> str:
    """The text as it is kept: control characters become spaces (newlines too: one fact is
    one line), bidirectional overrides go, runs of white space become one space."""
    if text.isprintable() and "  " not in text and text.strip() == text:
        return text  # already clean (printable excludes control, format and separator chars)
    chars = []
    for char in text.translate(_BIDI):
        category = unicodedata.category(char)
        if category == "Cc" or category in ("Zl", "Zp"):
            chars.append(" ")
        elif category != "Cs":  # lone surrogates cannot be stored as UTF-8
            chars.append(char)
    return _SPACES.sub(" ", "".join(chars)).strip()


def normalise(text: str) -> str:
    """What two texts must share to be the same fact: case, width, spacing and a final
    full stop do not count."""
    folded = unicodedata.normalize("NFKC", clean(text)).casefold()
    return folded.rstrip(" .!。").strip()


def fact_id(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:ID_CHARS]


def looks_like_id(text: str) -> bool:
    return bool(_ID.fullmatch(text.strip().lower()))


def record_key(owner: int, identifier: str) -> str:
    return f"{owner}:{identifier}"


def to_data(fact: Fact) -> dict[str, Any]:
    return {
        "text": fact.text,
        "at": fact.at,
        "conversation": fact.conversation,
        "source": fact.source,
    }


def from_record(record: Record) -> Fact | None:
    """The fact a record holds; None for a record that is not one (written by hand)."""
    text = record.data.get("text")
    if not isinstance(text, str):
        return None
    text = clean(text)
    if not text:
        return None
    at = record.data.get("at")
    conversation = record.data.get("conversation")
    source = record.data.get("source")
    return Fact(
        id=record.key.rpartition(":")[2],
        text=text,
        at=float(at) if isinstance(at, int | float) else record.updated_at,
        updated=record.updated_at,
        conversation=conversation if isinstance(conversation, str) else "",
        source=source if isinstance(source, str) else "tool",
    )


def is_group(chat_type: str, conversation_id: str) -> bool:
    """A chat with other people in it: a group by its type, or by its id (Telegram's group
    and channel ids are negative; a private chat's id is the user's)."""
    if chat_type in ("group", "supergroup", "channel"):
        return True
    head = conversation_id.partition(":")[0]
    return head.startswith("-") and head[1:].isdigit()
