"""Every admin page answers, on the file store and on DynamoDB (moto), with what the bot
really holds: histories, spend, tool servers, the allowlist, scheduled messages and facts."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from src.conversation.message import Message
from src.llm.client import Usage
from src.scheduler.entries import Entries, Entry
from tests.admin.client import ADDED, ADMIN, AdminClient, runtime_of, seed, start_admin_bot
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner
from tests.peers.dynamodb import raw_client

DAY = 86400.0
PRICES = {"test-model": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}}


async def test_every_page_answers_on_both_stores(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    clock = TestClock()
    bot = await start_admin_bot(
        bots,
        clock,
        scheduler={"enabled": True},
        memory={"enabled": True},
        limits={"daily_tokens": 1000},
        llm={"models": PRICES},
        **bot_store,
    )
    runtime = runtime_of(bot)
    await runtime.access.allow(ADDED, by=ADMIN, at=clock.time(), name="Carol")
    await seed(
        bot,
        str(OWNER),
        Message("user", "what is the weather", metadata={"user_id": OWNER}),
        Message(
            "assistant",
            None,
            tool_calls=[
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_current_time", "arguments": '{"zone": "UTC"}'},
                }
            ],
        ),
        Message("tool", "12:00 UTC", tool_call_id="c1", metadata={"tool": "get_current_time"}),
        Message("assistant", "It is noon and sunny.", metadata={"agent": "assistant"}),
        Message("user", "a cat", metadata={"photo": {"caption": "a cat"}}),
        Message("user", "remind me", metadata={"voice": {"media": "voice", "duration": 7}}),
    )
    limits = runtime.coordinator.limits
    await limits.charge_chat(OWNER, "test-model", Usage(300, 100))
    await clock.advance(DAY)
    await limits.charge_chat(OWNER, "test-model", Usage(500, 100))
    await limits.charge_chat(ADDED, "test-model", Usage(50, 50))
    entries = Entries(runtime.storage.records)
    await entries.create(
        Entry("", OWNER, str(OWNER), "water the plants", "UTC", clock.time() + 3600, clock.time())
    )
    await runtime.coordinator.memory.store.remember(OWNER, "likes green tea", str(OWNER), "tool")

    async with AdminClient(bots.health_port) as client:
        status, _, _ = await client.sign_in()
        assert status == 303
        status, page, _ = await client.get("/conversations")
        assert status == 200
        assert f'href="/admin/conversation?id={OWNER}"' in page
        assert "[voice note, 7 s]" in page  # the last message's preview

        status, page, _ = await client.get("/conversation", id=str(OWNER))
        assert status == 200
        assert "It is noon and sunny." in page
        assert "<summary>tool call: get_current_time</summary>" in page
        assert "<summary>result of get_current_time</summary><pre>12:00 UTC</pre>" in page
        assert "[photo: a cat]" in page

        status, page, _ = await client.get("/usage")
        assert status == 200
        values = re.findall(r'class="point"[^>]*data-label="([^"]+)" data-value="([^"]+)"', page)
        tokens_per_day = values[:30]
        assert [float(v) for _, v in tokens_per_day[-2:]] == [400.0, 700.0]
        assert "daily limit of 1,000 tokens: 60 %" in page  # OWNER today: 600 of 1,000

        status, page, _ = await client.get("/tools")
        assert status == 200
        assert "get_current_time" in page and "schedule_message" in page

        status, page, _ = await client.get("/access")
        assert status == 200
        assert f'id="user-{ADDED}"' in page and "Carol" in page

        status, page, _ = await client.get("/reminders")
        assert status == 200 and "water the plants" in page

        status, page, _ = await client.get("/memory", user=str(OWNER))
        assert status == 200 and "likes green tea" in page


async def test_a_store_that_fails_gives_a_short_page_and_a_logged_error(
    bots: BotRunner, moto: str, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = {"type": "dynamodb", "dynamodb": {"table": table, "create_table": True}}
    bot = await start_admin_bot(bots, store=store)
    await seed(bot, str(OWNER), Message("user", "hello"))
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        assert (await client.get("/conversations"))[0] == 200
        client_ = raw_client(moto)
        await asyncio.to_thread(client_.delete_table, TableName=table)  # the store breaks
        for path, params in (("/conversations", {}), ("/conversation", {"id": str(OWNER)})):
            status, page, _ = await client.get(path, **params)
            assert status == 503, path
            assert "The store did not answer" in page and "Traceback" not in page
    assert "admin page conversations: the store failed" in caplog.text
