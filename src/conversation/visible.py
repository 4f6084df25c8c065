"""What counts as an empty message: text with nothing a person can see.

Several OpenAI-compatible providers answer 400 to a user message without visible content,
and a stored one would be in every later request of that chat. So every way text comes in
(Telegram text and captions, voice transcripts, the console) asks `is_blank` first, and the
window sent to the model leaves out stored messages that are blank.

A character is invisible when it is one of:
- whitespace (`str.isspace`: ASCII and Unicode spaces, line and paragraph separators);
- a control or format character (Unicode categories Cc and Cf: zero-width space, joiners
  and non-joiners U+200B-U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD,
  bidirectional marks and isolates, the Mongolian vowel separator, tag characters);
- a variation selector (U+FE00-U+FE0F, U+E0100-U+E01EF) or the combining grapheme joiner
  U+034F, which only modify a character next to them;
- a filler that some fonts draw as nothing and people use to send "empty" messages: the
  Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the Braille blank U+2800, and the Khmer
  inherent vowels U+17B4, U+17B5.

Anything else is visible: one emoji, one letter, one punctuation mark is a message.
"""

from __future__ import annotations

import unicodedata

_FILLERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf"))


def is_invisible(char: str) -> bool:
    """True for one character that shows nothing on its own (see the module docstring)."""
    if char.isspace() or char in _FILLERS:
        return True
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES


def is_blank(text: str | None) -> bool:
    """True when `text` is None, empty, or made only of invisible characters."""
    if not text:
        return True
    return all(is_invisible(char) for char in text)  # stops at the first visible character
