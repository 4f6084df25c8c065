"""What the pages show: the listing paged newest first (both stores), the search, hostile
text escaped on every page, and nothing of a conversation in the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from src.admin.history import PAGE_SIZE
from src.conversation.message import Message
from tests.admin.client import ADMIN, TOKEN, AdminClient, runtime_of, seed, start_admin_bot
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner

ROW = re.compile(r'<a href="/admin/conversation\?id=([^"]+)">')
XSS = "<script>alert(1)</script>"
HOSTILE_USER = -7
RAW = ("<script", "<img", "<b>", "<svg onload")  # what would run or render unescaped


async def test_the_listing_is_paged_newest_first(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    bot = await start_admin_bot(bots, TestClock(), **bot_store)
    count = 2 * PAGE_SIZE + 7
    for index in range(count):
        await seed(bot, f"c{index}", Message("user", f"hello {index}"))
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        pages = []
        for page in range(3):
            status, html, _ = await client.get("/conversations", page=str(page))
            assert status == 200
            pages.append((ROW.findall(html), 'rel="next"' in html, 'rel="prev"' in html))
    assert [len(ids) for ids, _, _ in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert [(older, newer) for _, older, newer in pages] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    seen = [conversation for ids, _, _ in pages for conversation in ids]
    assert sorted(seen) == sorted(f"c{index}" for index in range(count))  # each once
    # In the store's order, newest first (writes in the same clock tick of the file
    # system share an mtime, so the order among those is the store's to choose).
    listed = await runtime_of(bot).storage.conversations.list_conversations(limit=count)
    assert seen == [info.conversation_id for info in listed]
    assert [info.updated_at for info in listed] == sorted(
        (info.updated_at for info in listed), reverse=True
    )


async def test_search_finds_a_conversation_by_id_or_user(bots: BotRunner) -> None:
    bot = await start_admin_bot(bots)
    await seed(bot, str(OWNER), Message("user", "mine"))
    await seed(bot, "-100123:45", Message("user", "a forum topic"))
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        _, html, _ = await client.get("/conversations", q=str(OWNER))
        assert ROW.findall(html) == [str(OWNER)]
        _, html, _ = await client.get("/conversations", q="-100123:45")
        assert ROW.findall(html) == ["-100123%3A45"]
        _, html, _ = await client.get("/conversations", q="999")
        assert ROW.findall(html) == [] and "No conversation has the id 999" in html


async def test_hostile_text_is_escaped_on_every_page(bots: BotRunner) -> None:
    clock = TestClock()
    bot = await start_admin_bot(bots, clock, scheduler={"enabled": True}, memory={"enabled": True})
    runtime = runtime_of(bot)
    await runtime.access.allow(HOSTILE_USER, by=ADMIN, at=clock.time(), name=f"<img src=x>{XSS}")
    call = {"id": "c1", "type": "function", "function": {"name": "<b>x</b>", "arguments": XSS}}
    await seed(
        bot,
        XSS,
        Message("user", XSS, metadata={"photo": {"caption": XSS}}),
        Message("assistant", None, tool_calls=[call]),
        Message("tool", XSS, tool_call_id="c1", metadata={"tool": "<b>x</b>"}),
        Message("assistant", XSS, metadata={"agent": XSS, "model": "<svg onload=alert(1)>"}),
    )
    from src.scheduler.entries import Entries, Entry

    await Entries(runtime.storage.records).create(
        Entry("", HOSTILE_USER, XSS, XSS, "UTC", clock.time() + 60, clock.time())
    )
    await runtime.coordinator.memory.store.remember(HOSTILE_USER, XSS, XSS, "tool")
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        pages = {
            "/conversations": {},
            "/conversation": {"id": XSS},
            "/usage": {},
            "/tools": {},
            "/access": {},
            "/reminders": {},
            "/memory": {"user": str(HOSTILE_USER)},
            "/conversations?": {"q": XSS},
        }
        for path, params in pages.items():
            status, html, _ = await client.get(path.rstrip("?"), **params)
            assert status == 200, path
            assert [raw for raw in RAW if raw in html.lower()] == [], path
        _, html, _ = await client.get("/conversation", id=XSS)
        assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
        assert "tool call: &lt;b&gt;x&lt;/b&gt;" in html
        _, html, _ = await client.get("/access")
        assert "&lt;img src=x&gt;" in html


async def test_no_conversation_text_or_token_reaches_the_logs(
    bots: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_admin_bot(bots, memory={"enabled": True})
    secret = "my-bank-pin-is-0000"
    await seed(bot, str(OWNER), Message("user", secret), Message("assistant", secret))
    async with AdminClient(bots.health_port) as client:
        await client.sign_in("not-the-token")
        await client.sign_in()
        for path in ("/conversations", "/usage", "/tools", "/access", "/memory"):
            assert (await client.get(path))[0] == 200
        _, html, _ = await client.get("/conversation", id=str(OWNER))
        assert secret in html
        assert (await client.post("/access/allow", {"user_id": "31337"}))[0] == 303
    assert "admin page: wrong token" in caplog.text  # the page does log, but no content
    assert secret not in caplog.text
    assert TOKEN not in caplog.text and "not-the-token" not in caplog.text
