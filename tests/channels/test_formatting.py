"""Markdown -> Telegram parts: entities inside their text, 4096 UTF-16 units, clean cuts."""

from __future__ import annotations

import telegramify_markdown

from src.channels.telegram.formatting import MAX_UTF16, plain_parts, render, utf16_len


def test_emoji_count_double() -> None:
    assert utf16_len("😀") == 2
    parts = plain_parts("😀" * 3000)
    assert [utf16_len(p.text) for p in parts] == [4096, 1904]
    assert "".join(p.text for p in parts) == "😀" * 3000


def test_parts_prefer_paragraph_breaks() -> None:
    markdown = "".join(f"**Paragraph {i}.** " + "word " * 150 + "\n\n" for i in range(20))
    parts = render(markdown)
    assert len(parts) > 1
    for part in parts[:-1]:
        assert part.text.endswith("\n\n")
        assert utf16_len(part.text) <= MAX_UTF16
    for part in parts:
        assert all(e.offset + e.length <= utf16_len(part.text) for e in part.entities)
    expected, _ = telegramify_markdown.convert(markdown)
    assert "".join(p.text for p in parts) == expected


def test_a_break_inside_code_is_not_a_paragraph_break() -> None:
    code = "\n\n".join(f"line_{i} = {i}" for i in range(600))
    markdown = "Intro.\n\n```python\n" + code + "\n```\n\nOutro."
    parts = render(markdown)
    assert len(parts) > 1
    for part in parts:
        size = utf16_len(part.text)
        assert size <= MAX_UTF16
        assert all(e.offset + e.length <= size for e in part.entities)
    pre = [e for p in parts for e in p.entities if e.type == "pre"]
    assert pre and all(e.language == "python" for e in pre)  # clipped, still code


def test_formatting_becomes_entities_not_markup() -> None:
    (part,) = render("**bold** and `code` and [link](https://example.org)")
    assert part.text == "bold and code and link"
    kinds = {e.type: (e.offset, e.length) for e in part.entities}
    assert kinds["bold"] == (0, 4) and kinds["code"] == (9, 4)
    assert kinds["text_link"] == (18, 4)


def test_tables_become_monospace_blocks() -> None:
    (part,) = render("| a | b |\n|---|---|\n| 1 | 2 |")
    assert [e.type for e in part.entities] == ["pre"]


def test_mermaid_stays_code() -> None:
    (part,) = render("```mermaid\ngraph TD; A-->B\n```")
    assert part.entities[0].type == "pre" and part.entities[0].language == "mermaid"


def test_empty_and_whitespace_give_no_parts() -> None:
    assert render("") == [] and render("  \n ") == []
