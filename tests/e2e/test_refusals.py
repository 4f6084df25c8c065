"""No chat that a bad input or a model refusal can break: the bot against the local peers.

Each failure gets its own short text, and the next ordinary message in the same chat is
answered. Empty messages never reach the model, and a history that the endpoint refuses is
set aside (still stored) instead of failing every later turn.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from src.channels.telegram import texts
from src.conversation.message import Message
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply

BLANKS = [
    " \t\n\u00a0\u2003\u3000 ",  # ASCII and Unicode spaces
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width characters
    "\u00ad \u3164 \u2800 \ufe0f",  # soft hyphen, Hangul filler, Braille blank, selector
]


def _user_contents(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


@pytest.mark.parametrize("blank", BLANKS)
async def test_a_message_with_nothing_visible_gets_a_notice_and_no_model_call(
    bots: BotRunner, blank: str
) -> None:
    bots.model.reject_blank = True  # like the providers that answer 400 to empty content
    first = await bots.start()
    bots.telegram.push_message(OWNER, blank)
    bots.telegram.push_message(OWNER, "hello after that")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert [m["text"] for m in sent] == [texts.EMPTY_MESSAGE, "echo: hello after that"]
    assert bots.model.request_count == 1
    assert not bots.model.invalid_requests
    assert _user_contents(bots.model.last_request()) == ["hello after that"]
    history = await bots.history(str(OWNER))
    assert [(m.role, m.content) for m in history] == [
        ("user", "hello after that"),
        ("assistant", "echo: hello after that"),
    ]
    # Each update is confirmed once and nothing is answered twice.
    assert await first.stop() == 0
    await bots.start()
    bots.telegram.push_message(OWNER, "and again")
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert [m["text"] for m in sent][2:] == ["echo: and again"]


async def test_a_stored_empty_user_message_is_left_out_of_the_window(bots: BotRunner) -> None:
    # What today's code may already have written: an empty message that broke the chat.
    store = bots.store()
    await store.append_messages(
        str(OWNER),
        [
            Message(role="user", content="my name is Ada"),
            Message(role="assistant", content="Hello Ada"),
            Message(role="user", content=" \u00a0\u200b "),
            Message(role="user", content="\u3000"),
        ],
    )
    bots.model.reject_blank = True
    await bots.start()
    bots.telegram.push_message(OWNER, "what is my name?")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: what is my name?"
    assert not bots.model.invalid_requests
    contents = [m["content"] for m in bots.model.last_request()["messages"][1:]]
    assert contents == ["my name is Ada", "Hello Ada", "what is my name?"]
    assert len(await bots.history(str(OWNER))) == 6  # the empty ones stay stored


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        (Reply.error(503), texts.MODEL_DOWN),
        (Reply(text="late", delay_s=2.0), texts.MODEL_TIMEOUT),
        (Reply.error(429, "Rate limit reached"), texts.MODEL_BUSY),
        (Reply.error(400, "Invalid 'messages[1]'"), texts.MODEL_REFUSED),
        (Reply.error(400, "flagged", code="content_policy_violation"), texts.CONTENT_REFUSED),
        (Reply.error(400, "filtered", code="content_filter"), texts.CONTENT_REFUSED),
        (Reply.content_filtered("The first words of"), texts.CONTENT_REFUSED),
        (Reply.error(401, "Incorrect API key provided"), texts.MODEL_AUTH),
        (Reply.error(403, "Project does not have access"), texts.MODEL_AUTH),
    ],
)
async def test_each_model_failure_has_its_own_text_and_the_chat_goes_on(
    bots: BotRunner, reply: Reply, text: str
) -> None:
    await bots.start(llm={"timeout_s": 0.5})
    bots.model.enqueue(reply)
    bots.telegram.push_message(OWNER, "first")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == text
    assert "Error" not in sent[0]["text"] and "Traceback" not in sent[0]["text"]
    bots.telegram.push_message(OWNER, "second")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == "echo: second"
    assert not bots.model.invalid_requests


async def test_a_content_refused_turn_is_not_sent_again(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_message(OWNER, "hello")
    await bots.telegram.wait_for_messages(OWNER, 1)

    def policy(body: dict[str, Any]) -> Reply:
        if any("forbidden" in content for content in _user_contents(body)):
            return Reply.error(400, "flagged", code="content_policy_violation")
        return Reply(text="fine")

    bots.model.set_handler(policy)
    bots.telegram.push_message(OWNER, "something forbidden")
    bots.telegram.push_message(OWNER, "something else")
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert [m["text"] for m in sent][1:] == [texts.CONTENT_REFUSED, "fine"]
    assert _user_contents(bots.model.last_request()) == ["hello", "something else"]
    history = [m.content for m in await bots.history(str(OWNER)) if m.role == "user"]
    assert "something forbidden" in history  # kept in the store, left out of the window


async def test_a_history_the_endpoint_refuses_is_set_aside_once(bots: BotRunner) -> None:
    store = bots.store()
    await store.append_messages(
        str(OWNER),
        [
            Message(role="user", content="an old message this provider will not take"),
            Message(role="assistant", content="an old answer"),
        ],
    )

    def picky(body: dict[str, Any]) -> Reply:
        if any("will not take" in content for content in _user_contents(body)):
            return Reply.error(400, "Invalid 'messages[1].content'")
        return Reply(text=f"echo: {_user_contents(body)[-1]}")

    bots.model.set_handler(picky)
    await bots.start()
    bots.telegram.push_message(OWNER, "hello")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert [m["text"] for m in sent] == ["echo: hello", texts.HISTORY_SET_ASIDE]
    refused, retried = bots.model.requests
    assert len(refused["messages"]) == 4
    assert [m["role"] for m in retried["messages"]] == ["system", "user"]

    bots.telegram.push_message(OWNER, "and now?")
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert sent[2]["text"] == "echo: and now?"
    assert bots.model.request_count == 3  # no refused request any more
    assert _user_contents(bots.model.last_request()) == ["hello", "and now?"]
    assert len(bots.telegram.sent_messages(OWNER)) == 3  # the notice came once
    history = await bots.history(str(OWNER))
    assert history[0].content == "an old message this provider will not take"  # still stored


async def test_refused_credentials_are_logged_critical_once(
    bots: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    await bots.start()
    bots.model.enqueue(Reply.error(401), Reply.error(401))
    for count, word in enumerate(("one", "two"), start=1):
        bots.telegram.push_message(OWNER, word)
        sent = await bots.telegram.wait_for_messages(OWNER, count)
        assert sent[-1]["text"] == texts.MODEL_AUTH
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "API key" in critical[0].getMessage()
    bots.telegram.push_message(OWNER, "three")
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert sent[2]["text"] == "echo: three"
