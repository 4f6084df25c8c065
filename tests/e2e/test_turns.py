"""The bot in this process against the local Telegram and OpenAI-compatible servers."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import aiohttp
import pytest

from src.channels.telegram import texts
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply
from tests.peers.serve import wait_until

STRANGER = 777


async def test_reply_round_trip(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_message(OWNER, "hello bot")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: hello bot"
    request = bots.model.last_request()
    assert request["model"] == "test-model"
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "hello bot"}
    assert not bots.model.invalid_requests
    history = await bots.history(str(OWNER))
    assert [(m.role, m.content) for m in history] == [
        ("user", "hello bot"),
        ("assistant", "echo: hello bot"),
    ]
    assert history[1].metadata["usage"]["completion_tokens"] >= 1


async def test_history_survives_restart(bots: BotRunner) -> None:
    first = await bots.start()
    bots.telegram.push_message(OWNER, "my name is Ada")
    await bots.telegram.wait_for_messages(OWNER, 1)
    assert await first.stop() == 0

    await bots.start()
    bots.telegram.push_message(OWNER, "what is my name?")
    await bots.telegram.wait_for_messages(OWNER, 2)
    contents = [m["content"] for m in bots.model.last_request()["messages"]]
    assert contents[1:] == ["my name is Ada", "echo: my name is Ada", "what is my name?"]


async def test_reset_forgets_the_conversation(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_message(OWNER, "remember 42")
    await bots.telegram.wait_for_messages(OWNER, 1)
    bots.telegram.push_message(OWNER, "/reset")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == texts.RESET_DONE
    assert await bots.history(str(OWNER)) == []
    bots.telegram.push_message(OWNER, "fresh start")
    await bots.telegram.wait_for_messages(OWNER, 3)
    roles = [(m["role"], m["content"]) for m in bots.model.last_request()["messages"][1:]]
    assert roles == [("user", "fresh start")]


async def test_refused_user_costs_no_model_tokens(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_message(STRANGER, "let me in")
    sent = await bots.telegram.wait_for_messages(STRANGER, 1)
    assert str(STRANGER) in sent[0]["text"]
    bots.telegram.push_message(STRANGER, "please")  # refused again, silently
    bots.telegram.push_message(OWNER, "hi")  # the owner is still served
    await bots.telegram.wait_for_messages(OWNER, 1)
    assert bots.model.request_count == 1
    assert len(bots.telegram.sent_messages(STRANGER)) == 1
    assert await bots.history(str(STRANGER)) == []


async def test_two_chats_with_a_slow_model_run_at_once(bots: BotRunner) -> None:
    await bots.start(telegram={"allowed_user_ids": [OWNER, OWNER + 1]})
    bots.model.latency_s = 0.5
    bots.telegram.push_message(OWNER, "first chat")
    bots.telegram.push_message(OWNER + 1, "second chat")
    await bots.telegram.wait_for_messages(OWNER, 1)
    await bots.telegram.wait_for_messages(OWNER + 1, 1)
    assert bots.model.max_in_flight == 2


async def test_quick_messages_in_one_chat_are_answered_in_order(bots: BotRunner) -> None:
    await bots.start()
    bots.model.latency_s = 0.2
    for word in ("one", "two", "three"):
        bots.telegram.push_message(OWNER, word)
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert [m["text"] for m in sent] == ["echo: one", "echo: two", "echo: three"]
    assert bots.model.max_in_flight == 1  # one chat never has two turns at once
    last = [m["content"] for m in bots.model.last_request()["messages"][1:]]
    assert last == ["one", "echo: one", "two", "echo: two", "three"]


async def test_model_error_and_timeout_get_an_apology_then_work(bots: BotRunner) -> None:
    await bots.start(llm={"timeout_s": 0.5})
    bots.model.enqueue(Reply(status=500), Reply(delay_s=2.0))
    bots.telegram.push_message(OWNER, "first")
    bots.telegram.push_message(OWNER, "second")
    bots.telegram.push_message(OWNER, "third")
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert [m["text"] for m in sent] == [texts.MODEL_DOWN, texts.MODEL_TIMEOUT, "echo: third"]
    assert not bots.model.invalid_requests
    # The requests that got an apology stay in the history, in order.
    history = await bots.history(str(OWNER))
    assert [(m.role, m.content) for m in history] == [
        ("user", "first"),
        ("user", "second"),
        ("user", "third"),
        ("assistant", "echo: third"),
    ]
    for message in sent:
        assert "Error" not in message["text"] and "Traceback" not in message["text"]


async def test_tool_call_runs_through_the_registry(bots: BotRunner) -> None:
    await bots.start()
    bots.model.enqueue(
        Reply.tool("get_current_time", timezone="Asia/Kolkata"), Reply(text="It is late.")
    )
    bots.telegram.push_message(OWNER, "what time is it in India?")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "It is late."
    second = bots.model.chat_requests()[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "get_current_time"
    assert second[-1]["role"] == "tool" and "+05:30" in second[-1]["content"]
    tools = [t["function"]["name"] for t in bots.model.chat_requests()[0]["tools"]]
    assert tools == ["get_current_time"]
    assert not bots.model.invalid_requests


async def test_a_model_that_keeps_calling_tools_is_made_to_answer(bots: BotRunner) -> None:
    await bots.start(agents={"max_tool_rounds": 2})

    def handler(request: dict[str, object]) -> Reply:
        if request.get("tool_choice") == "none":
            return Reply(text="Enough tools; here is my answer.")
        return Reply.tool("get_current_time")

    bots.model.set_handler(handler)
    bots.telegram.push_message(OWNER, "loop forever")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "Enough tools; here is my answer."
    assert bots.model.request_count == 3
    assert not bots.model.invalid_requests


async def test_bad_tool_arguments_go_back_to_the_model(bots: BotRunner) -> None:
    await bots.start()
    bots.model.enqueue(Reply.tool("get_current_time", zone=5), Reply(text="Sorry."))
    bots.telegram.push_message(OWNER, "time?")
    await bots.telegram.wait_for_messages(OWNER, 1)
    result = bots.model.chat_requests()[1]["messages"][-1]
    assert result["role"] == "tool" and result["content"].startswith("Error: invalid arguments")


async def test_redelivered_update_is_not_answered_twice(bots: BotRunner) -> None:
    await bots.start()
    update_id = bots.telegram.push_message(OWNER, "only once")
    await bots.telegram.wait_for_messages(OWNER, 1)
    calls = len(bots.telegram.get_updates_calls())
    bots.telegram.requeue(update_id)
    await wait_until(
        lambda: (
            len(bots.telegram.get_updates_calls()) > calls and not bots.telegram.pending_updates()
        )
    )
    await asyncio.sleep(0.2)
    assert len(bots.telegram.sent_messages(OWNER)) == 1
    assert bots.model.request_count == 1


async def test_telegram_429_is_waited_out(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.fail_next("sendMessage", 429, retry_after=1)
    bots.telegram.push_message(OWNER, "hello")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "echo: hello"
    statuses = [c.status for c in bots.telegram.calls("sendMessage")]
    assert statuses == [429, 200]


async def test_forum_topics_are_separate_conversations(bots: BotRunner) -> None:
    group = -100555
    await bots.start(telegram={"group_mode": "all"})
    bots.telegram.push_message(group, "topic one", user_id=OWNER, thread_id=11)
    bots.telegram.push_message(group, "topic two", user_id=OWNER, thread_id=12)
    await bots.telegram.wait_for_messages(group, 2)
    # In groups the first chunk is sent while streaming, before the turn is stored: wait
    # for the turn's end (the pending mark goes) before reading the history.
    await wait_until(
        lambda: (
            not (bots.data_dir / ".pending").exists()
            or not any((bots.data_dir / ".pending").iterdir())
        )
    )
    assert [m.content for m in await bots.history(f"{group}:11")] == [
        "topic one",
        "echo: topic one",
    ]
    assert next(m.content for m in await bots.history(f"{group}:12")) == "topic two"
    threads = sorted(m["message_thread_id"] for m in bots.telegram.sent_messages(group))
    assert threads == [11, 12]


async def test_health_and_metrics(bots: BotRunner) -> None:
    await bots.start()
    url = f"http://127.0.0.1:{bots.health_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as response:
            body = json.loads(await response.text())
            assert response.status == 200 and body["ok"] is True
        bots.data_dir.rename(bots.data_dir.with_name("moved"))
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 503
        bots.data_dir.with_name("moved").rename(bots.data_dir)
        async with session.get(f"{url}/metrics") as response:
            assert response.status == 200
            assert "python_info" in await response.text()


async def test_store_down_delays_but_loses_nothing(
    bots: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    await bots.start()
    # Another process holds the records database's write lock: every write fails (after
    # SQLite's busy timeout) until it lets go.
    holder = sqlite3.connect(bots.data_dir / "records.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    update_id = bots.telegram.push_message(OWNER, "are you there?")
    await wait_until(lambda: "cannot store update" in caplog.text, timeout=15)
    assert bots.telegram.confirmed_offset <= update_id  # not confirmed while unstored
    assert bots.model.request_count == 0
    holder.execute("ROLLBACK")
    holder.close()
    sent = await bots.telegram.wait_for_messages(OWNER, 1, timeout=20)
    assert sent[0]["text"] == "echo: are you there?"
    await wait_until(lambda: bots.telegram.confirmed_offset > update_id)
