"""How a call's arguments are shown in the approval question: secrets masked at any depth,
long values and long texts cut; the digest ignores key order."""

from __future__ import annotations

import json

from src.approval.describe import MASK, MAX_TEXT_CHARS, arguments_text, digest


def test_plain_arguments_are_lines() -> None:
    raw = json.dumps({"to": "bob@example.com", "count": 3, "tags": ["a", "b"]})
    assert arguments_text(raw) == 'to: bob@example.com\ncount: 3\ntags: ["a", "b"]'
    assert arguments_text("{}") == arguments_text("") == "(no arguments)"


def test_secrets_are_masked_at_any_depth() -> None:
    raw = json.dumps(
        {
            "API_KEY": "sk-1",
            "headers": {"Authorization": "Bearer abc", "X-Trace": "t"},
            "auth": {"password": "p", "user": "u"},
            "items": [{"access_token": "x"}],
            "note": "Bearer secret-in-a-value",
            "author": "Ann",  # not a secret
            "token": "",  # nothing to hide
        }
    )
    text = arguments_text(raw)
    assert "sk-1" not in text and "abc" not in text and "secret-in" not in text
    assert f"API_KEY: {MASK}" in text
    assert f'headers: {{"Authorization": "{MASK}", "X-Trace": "t"}}' in text
    assert f'auth: {{"password": "{MASK}", "user": "u"}}' in text
    assert f'items: [{{"access_token": "{MASK}"}}]' in text
    assert f"note: {MASK}" in text and "author: Ann" in text and text.endswith("\ntoken: ")


def test_long_values_and_texts_are_cut() -> None:
    text = arguments_text(json.dumps({"body": "x" * 1000}))
    assert text == "body: " + "x" * 300 + "… (700 more characters)"
    many = arguments_text(json.dumps({f"k{i}": "y" * 250 for i in range(20)}))
    assert len(many) < MAX_TEXT_CHARS + 40 and many.endswith("more characters)")


def test_the_digest_is_of_the_canonical_arguments() -> None:
    assert digest('{"a": 1, "b": [1, 2]}') == digest('{"b":[1,2],"a":1}')
    assert digest('{"a": 1}') != digest('{"a": 2}')
    assert len(digest("not json")) == 64
