"""Streaming, formatting, splitting, flood control and groups, against the local servers.

These check what the user sees (drafts that grow into the answer, one final message, edits
that never repeat); the cadence itself (at most one update per interval) is checked on the
test clock in tests/channels/test_stream.py, not by measuring gaps here.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import telegramify_markdown

from src.channels.telegram import texts
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until
from tests.peers.telegram_server import FakeTelegram, utf16_len

GROUP = -100777
MENTION = [{"type": "mention", "offset": 0, "length": len("@test_bot")}]


def grows(texts: list[str]) -> bool:
    """Each text is longer than the one before: no update repeats what is already shown."""
    return all(len(a) < len(b) for a, b in itertools.pairwise(texts))


def stream_calls(telegram: FakeTelegram, chat_id: int) -> list[Any]:
    names = {"sendmessagedraft", "editmessagetext", "sendmessage"}
    return [c for c in telegram.calls() if c.method.lower() in names and c.chat_id == chat_id]


async def test_private_reply_streams_with_drafts_that_grow_into_the_answer(
    bots: BotRunner,
) -> None:
    await bots.start(telegram={"stream_edit_interval": 0.5})
    text = " ".join(f"word{i}" for i in range(200))  # streamed over at least 15 s
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.05))
    bots.model.chunk_chars = 5
    bots.telegram.push_message(OWNER, "tell me a long story")
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=60)
    assert sent[0]["text"] == text
    drafts = bots.telegram.calls("sendMessageDraft")
    assert len(drafts) >= 10  # the answer was visible while it was written
    assert all(c.status == 200 for c in drafts)
    await asyncio.sleep(0.5)
    assert len(bots.telegram.sent_messages(OWNER)) == 1  # exactly one final message
    assert bots.telegram.calls("editMessageText") == []
    shown = [c.params["text"] for c in drafts]
    assert all(text.startswith(s) for s in shown)  # every draft is a prefix of the answer
    assert grows(shown)


async def test_group_reply_streams_with_edits_never_repeating_itself(bots: BotRunner) -> None:
    await bots.start(telegram={"group_edit_interval": 1.0, "group_mode": "all"})
    text = " ".join(f"token{i}" for i in range(120))
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.05))
    bots.model.chunk_chars = 5
    bots.telegram.push_message(GROUP, "go", user_id=OWNER)
    await wait_until(lambda: bots.telegram.texts(GROUP) == [text], timeout=30)
    edits = bots.telegram.calls("editMessageText")
    sends = bots.telegram.calls("sendMessage")
    assert len(sends) == 1 and len(edits) >= 3
    assert all(c.status == 200 for c in edits)  # no "message is not modified"
    shown = [sends[0].params["text"]] + [c.params["text"] for c in edits]
    assert grows(shown) and shown[-1] == text
    assert sends[0].params.get("reply_parameters")  # in groups the answer replies to the ask


async def test_429_is_waited_out_and_the_final_text_arrives_once(bots: BotRunner) -> None:
    await bots.start(telegram={"stream_edit_interval": 0.3})
    text = "Streaming under flood control. " * 10
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.05))
    bots.telegram.fail_next("sendMessageDraft", 429, retry_after=1)
    bots.telegram.fail_next("sendMessage", 429, retry_after=1)
    bots.telegram.push_message(OWNER, "hi")
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=20)
    assert sent[0]["text"] == text.strip()
    await asyncio.sleep(0.5)
    assert len(bots.telegram.sent_messages(OWNER)) == 1
    assert [c.status for c in bots.telegram.calls("sendMessage")] == [429, 200]


MARKDOWN_BLOCK = """## Section {n}

Some **bold**, _italic_, `inline code`, a [link](https://example.org/{n}) and emoji 😀🎉.

```python
def f{n}(x):
    return x * {n}  # 😀
```

| name | value |
|------|-------|
| a{n} | {n} |
| b{n} | 😀 |

- item one
  - nested item
    - deeper item
- item two

"""


async def test_long_markdown_reply_is_split_with_valid_entities(bots: BotRunner) -> None:
    await bots.start(telegram={"streaming": False})
    markdown = "".join(MARKDOWN_BLOCK.format(n=n) for n in range(45))
    assert len(markdown) >= 12_000
    bots.model.enqueue(Reply(text=markdown))
    bots.telegram.push_message(OWNER, "write a report")
    expected_text, _ = telegramify_markdown.convert(markdown)
    await wait_until(
        lambda: "".join(bots.telegram.texts(OWNER)) == expected_text,
        timeout=20,
        message="the parts do not add up to the converter's output",
    )
    messages = bots.telegram.sent_messages(OWNER)
    assert len(messages) >= 3
    for message in messages:
        size = utf16_len(message["text"])
        assert size <= 4096
        entities = message.get("entities", [])
        assert entities  # formatting survived
        assert all(e["offset"] + e["length"] <= size for e in entities)
    kinds = {e["type"] for m in messages for e in m.get("entities", [])}
    assert {"bold", "italic", "code", "pre", "text_link"} <= kinds
    languages = {e.get("language") for m in messages for e in m["entities"] if e["type"] == "pre"}
    assert "python" in languages
    assert all(c.status == 200 for c in bots.telegram.calls("sendMessage"))


async def test_long_streamed_reply_flows_into_the_next_message(bots: BotRunner) -> None:
    await bots.start(telegram={"stream_edit_interval": 0.3})
    text = ("A fairly long line of streamed text with an emoji 😀.\n" * 200).strip()
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.002))
    bots.model.chunk_chars = 200
    bots.telegram.push_message(OWNER, "write a lot")
    expected, _ = telegramify_markdown.convert(text)
    await wait_until(lambda: "".join(bots.telegram.texts(OWNER)) == expected, timeout=30)
    messages = bots.telegram.sent_messages(OWNER)
    assert len(messages) == 3 and all(utf16_len(m["text"]) <= 4096 for m in messages)
    assert all(c.status == 200 for c in stream_calls(bots.telegram, OWNER))


async def test_rejected_entities_are_resent_as_plain_text(bots: BotRunner) -> None:
    await bots.start(telegram={"streaming": False})
    bots.model.enqueue(Reply(text="Some **bold** answer"))
    bots.telegram.fail_next("sendMessage", 400, "Bad Request: can't parse entities: oops")
    bots.telegram.push_message(OWNER, "hi")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "Some bold answer"
    assert "entities" not in sent[0]
    calls = bots.telegram.calls("sendMessage")
    assert [c.status for c in calls] == [400, 200]
    assert calls[0].params.get("entities") and not calls[1].params.get("entities")


async def test_without_drafts_the_server_gets_edits(bots: BotRunner) -> None:
    bots.telegram.unsupported_methods = {"sendMessageDraft"}
    await bots.start(telegram={"stream_edit_interval": 0.3})
    text = "Edits instead of drafts, streamed in pieces. " * 6
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.05), Reply(text="second answer"))
    bots.telegram.push_message(OWNER, "hi")
    await wait_until(lambda: bots.telegram.texts(OWNER) == [text.strip()], timeout=20)
    assert len(bots.telegram.calls("sendMessageDraft")) == 1  # tried once, then remembered
    assert bots.telegram.calls("editMessageText")
    bots.telegram.push_message(OWNER, "again")
    await wait_until(lambda: len(bots.telegram.texts(OWNER)) == 2)
    assert len(bots.telegram.calls("sendMessageDraft")) == 1


async def test_streaming_off_sends_one_message(bots: BotRunner) -> None:
    await bots.start(telegram={"streaming": False})
    bots.model.enqueue(Reply(text="just " * 50, chunk_delay_s=0.01))
    bots.telegram.push_message(OWNER, "hi")
    await bots.telegram.wait_for_messages(OWNER, 1)
    assert not bots.telegram.calls("sendMessageDraft")
    assert not bots.telegram.calls("editMessageText")


async def test_typing_until_text_and_again_during_tools(bots: BotRunner) -> None:
    await bots.start(telegram={"typing_interval_s": 0.2, "stream_edit_interval": 0.2})
    bots.model.enqueue(
        Reply(text="Let me check.", tool_calls=[("get_current_time", {})], delay_s=0.5),
        Reply(text="It is noon, more or less.", delay_s=0.8),
    )
    bots.telegram.push_message(OWNER, "time?")
    await bots.telegram.wait_for_messages(OWNER, 1)
    # Positions in the order the server received the calls, not times.
    calls = bots.telegram.calls()
    actions = [i for i, c in enumerate(calls) if c.method.lower() == "sendchataction"]
    drafts = [
        (i, c.params["text"]) for i, c in enumerate(calls) if c.method.lower() == "sendmessagedraft"
    ]
    assert drafts[0][1] == "Let me check." and drafts[-1][1] == "It is noon, more or less."
    assert actions[0] < drafts[0][0]  # "typing…" until the first text shows
    assert any(drafts[0][0] < i < drafts[-1][0] for i in actions)  # and again while tools run


async def test_group_messages_need_a_mention_reply_or_command(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_message(GROUP, "people talking among themselves", user_id=OWNER)
    bots.telegram.push_message(GROUP, "@test_bot what is 2+2?", user_id=OWNER, entities=MENTION)
    sent = await bots.telegram.wait_for_messages(GROUP, 1)
    assert sent[0]["text"] == "echo: what is 2+2?"  # the mention is stripped
    await asyncio.sleep(0.3)
    assert bots.model.request_count == 1  # the unaddressed message cost nothing
    bots.telegram.push_message(GROUP, "and times three?", user_id=OWNER, reply_to=sent[0])
    replies = await bots.telegram.wait_for_messages(GROUP, 2)
    assert replies[1]["text"].endswith("and times three?")
    content = bots.model.last_request()["messages"][-1]["content"]
    assert "echo: what is 2+2?" in content  # the quoted message reached the model
    bots.telegram.push_message(GROUP, "/help", user_id=OWNER)
    helped = await bots.telegram.wait_for_messages(GROUP, 3)
    assert helped[2]["text"] == texts.HELP
    history = [m.content for m in await bots.history(str(GROUP))]
    assert "people talking among themselves" not in history


async def test_group_mode_off_and_strangers_in_groups(bots: BotRunner) -> None:
    await bots.start(telegram={"group_mode": "off"})
    bots.telegram.push_message(GROUP, "@test_bot hello?", user_id=OWNER, entities=MENTION)
    bots.telegram.push_message(GROUP, "/help", user_id=OWNER)
    bots.telegram.push_message(OWNER, "private still works")
    await bots.telegram.wait_for_messages(OWNER, 1)
    await asyncio.sleep(0.3)
    assert bots.telegram.sent_messages(GROUP) == []
    assert bots.model.request_count == 1


async def test_stranger_in_a_group_is_refused_only_when_addressing_the_bot(
    bots: BotRunner,
) -> None:
    await bots.start()
    bots.telegram.push_message(GROUP, "just chatting", user_id=999)
    bots.telegram.push_message(GROUP, "@test_bot let me in", user_id=999, entities=MENTION)
    sent = await bots.telegram.wait_for_messages(GROUP, 1)
    assert "999" in sent[0]["text"]
    assert bots.model.request_count == 0


async def test_other_content_gets_a_friendly_answer_without_the_model(bots: BotRunner) -> None:
    await bots.start()
    sticker = {
        "file_id": "s1",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    base = {
        "date": 0,
        "chat": {"id": OWNER, "type": "private"},
        "from": {"id": OWNER, "is_bot": False, "first_name": "A"},
    }
    bots.telegram.push_update({"message": {**base, "message_id": 50, "sticker": sticker}})
    bots.telegram.push_update(
        {"message": {**base, "message_id": 51, "location": {"latitude": 1.0, "longitude": 2.0}}}
    )
    bots.telegram.push_update({"edited_message": {**base, "message_id": 52, "text": "edit"}})
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert [m["text"] for m in sent] == [texts.UNSUPPORTED, texts.UNSUPPORTED]
    await asyncio.sleep(0.3)
    assert len(bots.telegram.sent_messages(OWNER)) == 2  # the edit was ignored
    assert bots.model.request_count == 0


async def test_commands_menu_is_registered(bots: BotRunner) -> None:
    await bots.start()
    names = [c["command"] for c in bots.telegram.commands]
    assert {"start", "help", "reset"} <= set(names)


async def test_when_edits_fail_the_final_text_is_sent_anew(bots: BotRunner) -> None:
    bots.telegram.unsupported_methods = {"sendMessageDraft", "editMessageText"}
    await bots.start(telegram={"stream_edit_interval": 0.2})
    text = "Streamed on a server that can neither draft nor edit. " * 4
    bots.model.enqueue(Reply(text=text, chunk_delay_s=0.05))
    bots.telegram.push_message(OWNER, "hi")
    await wait_until(lambda: text.strip() in bots.telegram.texts(OWNER), timeout=20)
    await asyncio.sleep(0.3)
    assert bots.telegram.texts(OWNER)[-1] == text.strip()  # the last message is the answer
    deletes = bots.telegram.calls("deleteMessage")
    assert len(deletes) == len(bots.telegram.sent_messages(OWNER)) - 1  # partials removed
