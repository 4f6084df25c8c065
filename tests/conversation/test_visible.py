"""What counts as an empty message (src/conversation/visible.py)."""

from __future__ import annotations

import pytest

from src.conversation.visible import is_blank


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        " \t\n\u00a0\u2003\u3000 ",  # ASCII and Unicode spaces
        "\u2028\u2029\x0b\x0c\x1c",  # separators and ASCII controls that are spaces
        "\x00\x1b",  # other control characters
        "\u200b\u200c\u200d\u2060\ufeff\u00ad",  # zero-width and format characters
        "\u200e\u200f\u202a\u202e\u2066\u2069\u061c\u180e",  # bidi marks, Mongolian separator
        "\U000e0001\U000e0041",  # tag characters
        "\ufe00\ufe0f\U000e0100\u034f",  # variation selectors, combining grapheme joiner
        "\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5",  # fillers
        " \u3164 \u200b \u2800 ",
    ],
)
def test_nothing_visible_is_blank(text: str | None) -> None:
    assert is_blank(text)


@pytest.mark.parametrize(
    "text", ["a", " ok ", ".", "\u200b?", "😀", "\u3164x", "\u0301", "日本", "\u00a0-"]
)
def test_anything_visible_is_a_message(text: str) -> None:
    assert not is_blank(text)
