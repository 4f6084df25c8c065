"""How a stored message is shown: photos, voice notes and documents as what they were (from
the metadata the channels write), tool calls and results folded, summaries folded."""

from __future__ import annotations

from src.admin.history import to_item
from src.conversation.message import Message

REF = {"file_id": "AgAD", "size": 1234, "mime_type": "image/jpeg"}


def test_photos_show_as_photo_and_caption() -> None:
    one = to_item(Message("user", "my cat", metadata={"images": [REF]}))
    assert (one.label, one.text) == ("[photo: my cat]", "")
    album = to_item(Message("user", "the trip", metadata={"images": [REF, REF, REF]}))
    assert album.label == "[3 photos: the trip]"
    noted = to_item(
        Message("user", "(a photo without caption)", metadata={"images": [REF], "image_note": True})
    )
    assert (noted.label, noted.text) == ("[photo]", "")


def test_voice_notes_and_documents_keep_their_text_under_a_label() -> None:
    voice = to_item(
        Message("user", "buy milk", metadata={"voice": {"media": "voice", "duration": 4}})
    )
    assert (voice.label, voice.text) == ("[voice note, 4 s]", "buy milk")
    audio = to_item(Message("user", "song", metadata={"voice": {"media": "audio"}}))
    assert audio.label == "[audio]"
    document = to_item(
        Message("user", "summarise", metadata={"document": {"file_name": "report.pdf"}})
    )
    assert (document.label, document.text) == ("[document: report.pdf]", "summarise")
    plain = to_item(Message("user", "hello", metadata={"user_id": 7}))
    assert (plain.label, plain.text, plain.notes) == ("", "hello", ["user 7"])


def test_tool_calls_results_and_summaries_are_folded() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "add", "arguments": '{"a":1}'}}
    asked = to_item(
        Message(
            "assistant",
            None,
            tool_calls=[call],
            metadata={"agent": "main", "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
        )
    )
    assert asked.folded == [("tool call: add", '{\n  "a": 1\n}')]
    assert asked.notes == ["agent main", "15 tokens"]
    result = to_item(
        Message("tool", "2", tool_call_id="c", metadata={"tool": "add", "is_error": True})
    )
    assert (result.text, result.folded) == ("", [("result of add (error)", "2")])
    summary = to_item(Message("system", "They talked about cats.", metadata={"compaction": {}}))
    assert summary.folded == [("summary of the earlier conversation", "They talked about cats.")]
