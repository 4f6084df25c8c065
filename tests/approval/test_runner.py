"""ToolRunner without Telegram: the console asks y/N, no channel means a gated tool never runs,
a call the registry refuses is not put to anyone, an approved question acted on before a
restart never runs twice; the audit keeps arguments only when told, and forgets old entries."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from src.agents.types import Toolbox
from src.approval.audit import CONSOLE_USER, OK, AuditEntry, AuditTrail
from src.approval.pending import KEEP_S, PendingApprovals
from src.approval.runner import NO_ONE_TO_ASK
from src.approval.types import APPROVED, Decision
from src.channels.console import run_console
from src.config import AuditConfig
from src.conversation.manager import INTERRUPTED
from src.llm.client import ToolCall
from src.store.file.records import SQLiteRecords
from src.tools.context import TurnContext, turn_context
from tests.clock import TestClock
from tests.direct import TextTool, direct
from tests.peers.openai_server import FakeOpenAI, Reply


def gated(name: str = "send") -> TextTool:
    tool = TextTool(name, answer="sent")
    tool.confirm = True
    return tool


async def test_the_console_asks_y_or_n(tmp_path: Path, model: FakeOpenAI) -> None:
    tool = gated()
    stdin = io.StringIO("send x\ny\nsend y\nno\n")
    out = io.StringIO()
    model.enqueue(
        Reply.tool("send", q="x", token="abc"),
        Reply(text="did it"),
        Reply.tool("send", q="y"),
        Reply(text="did not"),
    )
    async with direct(tmp_path, model, [tool]) as bot:
        await run_console(bot.coordinator, stdin, out)
        trail = bot.coordinator.tool_runner.audit
        entries = await trail.recent([CONSOLE_USER], 10)
    assert tool.calls == [{"q": "x", "token": "abc"}]
    assert "[approve] send\nq: x\ntoken: ••••••\nRun it? [y/N] [approved]\ndid it" in out.getvalue()
    assert "Run it? [y/N] [denied]\ndid not" in out.getvalue()
    assert [(e.outcome, e.approval, e.user_id) for e in entries] == [
        ("denied", "asked", CONSOLE_USER),
        ("ok", "asked", CONSOLE_USER),
    ]


async def test_without_a_channel_to_ask_a_gated_tool_does_not_run(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    tool = gated()
    model.enqueue(Reply.tool("send", q="x"), Reply(text="could not"))
    async with direct(tmp_path, model, [tool]) as bot:
        assert (await bot.ask("send it")).text == "could not"
        entries = await bot.coordinator.tool_runner.audit.recent([1], 10)
    assert tool.calls == []
    tool_message = model.last_request()["messages"][-1]
    assert tool_message["content"] == NO_ONE_TO_ASK
    assert [(e.outcome, e.approval) for e in entries] == [("denied", None)]


async def test_a_call_the_registry_refuses_is_not_put_to_anyone(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    tool = gated()
    model.enqueue(Reply.tool("send", q=7), Reply(text="wrong arguments"))
    async with direct(tmp_path, model, [tool]) as bot:
        await bot.ask("send it")
        entries = await bot.coordinator.tool_runner.audit.recent([1], 10)
    content = model.last_request()["messages"][-1]["content"]
    assert content.startswith("Error: invalid arguments for send: q: 7 is not of type 'string'")
    assert [(e.outcome, e.approval) for e in entries] == [("error", None)]


async def test_an_approved_question_acted_on_before_a_restart_never_runs_twice(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    tool = gated()
    async with direct(tmp_path, model, [tool]) as bot:
        runner = bot.coordinator.tool_runner
        runner.approver = _NeverAsked()
        box = Toolbox(bot.coordinator.tools, ("*",))
        call = ToolCall("call_9", "send", '{"q": "x"}')
        with turn_context(TurnContext("chat", 1)):
            request = await runner.pending.create(
                conversation_id="chat",
                user_id=1,
                chat_type="private",
                tool="send",
                call_id="call_9",
                arguments="q: x",
                timeout_s=120,
            )
            await runner.pending.decide(request.id, Decision(APPROVED, 1))  # pressed, then down
            first = await runner.resume(box, call)
            second = await runner.resume(box, call)  # as if it died again while running
            other = await runner.resume(box, ToolCall("call_10", "send", '{"q": "x"}'))
    assert first is not None and first.content == "sent"
    assert second is not None and second.content == INTERRUPTED
    assert other is None  # no question was asked about that call: closed as interrupted
    assert tool.calls == [{"q": "x"}]


async def test_the_audit_keeps_arguments_only_when_told_and_forgets_old_entries(
    tmp_path: Path,
) -> None:
    clock = TestClock()
    records = SQLiteRecords(tmp_path / "store", fsync=False, clock=clock)
    await records.open()
    try:
        trail = AuditTrail(records, AuditConfig(keep_arguments=True, retention_days=1), clock)
        raw = json.dumps({"to": "bob", "password": "hunter2", "deep": {"api_key": "k"}})
        assert trail.arguments(raw) == (
            '{"to": "bob", "password": "••••••", "deep": {"api_key": "••••••"}}'
        )
        assert AuditTrail(records, AuditConfig(), clock).arguments(raw) is None
        await trail.record(_entry(clock.time(), "old"))
        await clock.advance(86400 + 3600)
        await trail.record(_entry(clock.time(), "new"))
        assert [e.tool for e in await trail.recent([1], 10)] == ["new"]
    finally:
        await records.close()


async def test_old_questions_are_swept(tmp_path: Path) -> None:
    clock = TestClock()
    records = SQLiteRecords(tmp_path / "store", fsync=False, clock=clock)
    await records.open()
    try:
        pending = PendingApprovals(records, clock)
        fields: dict[str, Any] = {
            "conversation_id": "c",
            "user_id": 1,
            "chat_type": "private",
            "arguments": "",
        }
        open_one = await pending.create(tool="a", call_id="1", timeout_s=60, **fields)
        answered = await pending.create(tool="b", call_id="2", timeout_s=60, **fields)
        await pending.decide(answered.id, Decision(APPROVED, 1))
        await clock.advance(61)
        assert [r.id for r in await pending.sweep()] == [open_one.id]
        assert await pending.get(answered.id) is not None  # kept a while for late presses
        await clock.advance(KEEP_S)
        assert await pending.sweep() == []
        assert await pending.get(answered.id) is None and await pending.get(open_one.id) is None
    finally:
        await records.close()


def _entry(at: float, tool: str) -> AuditEntry:
    return AuditEntry(at, "c", 1, tool, "0" * 64, OK)


class _NeverAsked:
    async def ask(self, request: object) -> Decision:
        raise AssertionError("a resumed question that was answered is not asked again")

    async def expired(self, request: object) -> None:
        return None
