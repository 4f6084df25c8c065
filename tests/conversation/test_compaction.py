"""The context budget with compaction, end to end through the Coordinator.

The model is the scripted local server; it counts every request's size itself (characters
/ 4 of all text, tool calls and tool definitions: `request_chars`) and reports that count as
the prompt usage, so the bot's correction of its own estimate is exercised as well.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from src.conversation.compaction import INSTRUCTIONS, SUMMARY_HEADER, render_transcript
from src.conversation.message import Message
from src.conversation.window import (
    choose_cut,
    drop_broken_tool_exchanges,
    estimate_tokens,
    is_compaction,
    messages_from,
)
from tests.conversation.test_window import problems, random_history
from tests.direct import TextTool, direct, request_chars, system_prompt
from tests.peers.openai_server import FakeOpenAI, Reply

SUMMARISER_MARK = INSTRUCTIONS.split(".", 1)[0]
BUDGET = 1500
# The bot sizes each request with its own estimate times a ratio learnt from the usage the
# server reports; the ratio lags a little when the mix of messages changes. Stated margin:
# a request may exceed the budget by at most 5% of it, counted by the server.
MARGIN = 0.05
FILLER = "lorem ipsum dolor sit amet " * 8  # 216 characters


def is_summary_request(body: dict[str, Any]) -> bool:
    return system_prompt(body).startswith(SUMMARISER_MARK)


class ScriptedModel:
    """Answers like a model with a tool, summarises when asked, reports usage by its own
    count, and records the size of every request."""

    def __init__(self, tool_every: int = 3, scale: float = 1.0) -> None:
        self.tool_every = tool_every
        self.scale = scale  # reported tokens per counted token (a different tokenizer)
        self.sizes: list[tuple[str, int]] = []  # ("agent" | "summary", counted tokens)
        self.summaries = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        counted = request_chars(body) // 4
        usage = {"prompt_tokens": int(counted * self.scale), "completion_tokens": 20}
        if is_summary_request(body):
            self.sizes.append(("summary", counted))
            self.summaries += 1
            text = f"Summary {self.summaries}: the user sent numbered turns. {FILLER}"
            return Reply(text=text, usage=usage)
        self.sizes.append(("agent", counted))
        message = body["messages"][-1]
        if message["role"] == "tool":
            return Reply(text=f"Looked it up: {message['content'][:40]} {FILLER}", usage=usage)
        turn = int(str(message["content"]).split()[1].rstrip(":"))
        if self.tool_every and turn % self.tool_every == 0:
            return Reply(tool_calls=[("notes__lookup", {"q": f"turn {turn}"})], usage=usage)
        return Reply(text=f"Answer to turn {turn}. {FILLER}", usage=usage)


def conversation_config(**compaction: Any) -> dict[str, Any]:
    return {
        "conversation": {
            "max_context_tokens": BUDGET,
            "max_history_messages": 60,
            "compaction": {"summary_tokens": 150, **compaction},
        }
    }


def turn_text(number: int) -> str:
    return f"turn {number}: {FILLER}"


def assert_history_complete(history: list[Message], turns: int) -> None:
    """Every message of every turn is in the store, in order, tool pairs intact."""
    ordinary = [m for m in history if not is_compaction(m)]
    assert [m.content for m in ordinary if m.role == "user"] == [turn_text(i) for i in range(turns)]
    answers = [m for m in ordinary if m.role == "assistant" and not m.tool_calls]
    assert [m.metadata["reply_to"] for m in answers] == list(range(1, turns + 1))
    assert problems(ordinary) == []


async def test_two_thousand_turns_stay_within_the_budget(tmp_path: Path, model: FakeOpenAI) -> None:
    turns = 2000
    scripted = ScriptedModel()
    model.chunk_chars = 4096  # fewer stream chunks: the same protocol, less parsing
    model.set_handler(scripted)
    lookup = TextTool("notes__lookup", "note: " + "x" * 600)
    async with direct(tmp_path, model, tools=[lookup], **conversation_config()) as bot:
        for number in range(turns):
            await bot.ask(turn_text(number))
        history = await bot.store.load_conversation("chat")
        usage = (await bot.store.load_metadata("chat"))["usage"]["by_model"]["test-model"]

    assert not model.invalid_requests  # every request was valid: tool pairs intact
    limit = BUDGET * (1 + MARGIN)
    over = [(i, kind, size) for i, (kind, size) in enumerate(scripted.sizes) if size > limit]
    assert over == []
    biggest = max(size for _, size in scripted.sizes)
    assert biggest > BUDGET * 0.6  # the budget is used, not avoided

    records = [m for m in history if is_compaction(m)]
    assert len(records) == scripted.summaries > 50
    last_request = model.requests[-1]
    assert f"{SUMMARY_HEADER}\nSummary {scripted.summaries}:" in system_prompt(last_request)
    assert_history_complete(history, turns)
    assert len(lookup.calls) == len(range(0, turns, 3))
    assert usage["requests"] == model.request_count


@pytest.mark.parametrize(
    ("failure", "retry_after_s"),
    [(Reply(status=500), 60), (Reply(delay_s=2, text="too late"), 60), (Reply(text=" \n"), 0)],
    ids=["error", "timeout", "empty"],
)
async def test_a_failing_summariser_means_older_turns_are_left_out(
    tmp_path: Path, model: FakeOpenAI, failure: Reply, retry_after_s: float
) -> None:
    scripted = ScriptedModel(tool_every=0)

    def handler(body: dict[str, Any]) -> Reply:
        if is_summary_request(body):
            scripted.sizes.append(("summary", 0))
            return failure
        return scripted(body)

    model.set_handler(handler)
    config = conversation_config(timeout_s=0.3, retry_after_s=retry_after_s)
    async with direct(tmp_path, model, **config) as bot:
        answers = [(await bot.ask(turn_text(n))).text for n in range(40)]
        history = await bot.store.load_conversation("chat")

    assert answers == [f"Answer to turn {n}. {FILLER}".strip() for n in range(40)]
    assert not [m for m in history if is_compaction(m)]
    agent_sizes = [size for kind, size in scripted.sizes if kind == "agent"]
    assert max(agent_sizes) <= BUDGET * (1 + MARGIN)
    # after a failure summaries rest for retry_after_s; with 0, every turn tries once
    attempts = scripted.sizes.count(("summary", 0))
    assert attempts == 1 if retry_after_s else attempts > 10
    last = model.requests[-1]["messages"]
    assert last[1]["role"] == "user" and last[-1]["content"] == turn_text(39)
    assert_history_complete(history, 40)


async def test_the_estimate_learns_from_reported_usage(tmp_path: Path, model: FakeOpenAI) -> None:
    # This "tokenizer" counts twice as many tokens as characters / 4: the bot must notice
    # from the usage reports and send half as much.
    scripted = ScriptedModel(scale=2.0)
    model.set_handler(scripted)
    lookup = TextTool("notes__lookup", "note: " + "x" * 600)
    async with direct(tmp_path, model, tools=[lookup], **conversation_config()) as bot:
        for number in range(60):
            await bot.ask(turn_text(number))
        ratio = (await bot.store.load_metadata("chat"))["token_ratio"]
    billed = [int(size * 2.0) for kind, size in scripted.sizes if kind == "agent"]
    assert max(billed) <= BUDGET * (1 + MARGIN)
    assert max(billed) > BUDGET * 0.6
    assert 1.5 < ratio < 2.0  # 2 x (the server's count / the bot's own estimate)
    assert not model.invalid_requests


async def test_one_long_turn_is_cut_between_tool_exchanges(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    # A single question whose tool results alone overflow the budget: the cut falls inside
    # the turn, never between a call and its result, and the question stays in front.
    big = TextTool("notes__lookup", "page: " + "y" * 2000)  # about 500 tokens a result

    def handler(body: dict[str, Any]) -> Reply:
        usage = {"prompt_tokens": request_chars(body) // 4, "completion_tokens": 10}
        if is_summary_request(body):
            return Reply(text="Summary: pages 1 to n were read; all were full of y.")
        rounds = sum(m["role"] == "tool" for m in body["messages"])
        sizes.append(usage["prompt_tokens"])
        if body.get("tool_choice") == "none":
            return Reply(text=f"Read them all ({rounds} in view).", usage=usage)
        return Reply(tool_calls=[("notes__lookup", {"q": f"page {rounds}"})], usage=usage)

    sizes: list[int] = []
    model.set_handler(handler)
    overrides = conversation_config()
    async with direct(
        tmp_path, model, tools=[big], agents={"max_tool_rounds": 8}, **overrides
    ) as bot:
        response = await bot.ask("read every page")
        history = await bot.store.load_conversation("chat")
    assert response.text.startswith("Read them all")
    assert max(sizes) <= BUDGET * (1 + MARGIN)
    assert not model.invalid_requests
    agent_requests = [b for b in model.requests if not is_summary_request(b)]
    for body in agent_requests:
        assert body["messages"][1] == {"role": "user", "content": "read every page"}
    assert any(is_compaction(m) for m in history)
    assert len(big.calls) == 8 and [m.role for m in history].count("tool") == 8


async def test_compaction_off_drops_the_oldest_turns(tmp_path: Path, model: FakeOpenAI) -> None:
    scripted = ScriptedModel()
    model.set_handler(scripted)
    lookup = TextTool("notes__lookup", "note: " + "x" * 600)
    config = conversation_config(enabled=False)
    async with direct(tmp_path, model, tools=[lookup], **config) as bot:
        for number in range(40):
            await bot.ask(turn_text(number))
        history = await bot.store.load_conversation("chat")
    assert scripted.summaries == 0
    assert max(size for _, size in scripted.sizes) <= BUDGET * (1 + MARGIN)
    assert model.last_request()["messages"][1]["role"] == "user"
    assert_history_complete(history, 40)


async def test_the_summariser_model_is_configurable(tmp_path: Path, model: FakeOpenAI) -> None:
    scripted = ScriptedModel(tool_every=0)
    model.set_handler(scripted)
    async with direct(tmp_path, model, **conversation_config(model="cheap-summary")) as bot:
        for number in range(20):
            await bot.ask(turn_text(number))
        usage = (await bot.store.load_metadata("chat"))["usage"]["by_model"]
        history = await bot.store.load_conversation("chat")
    summaries = [b for b in model.requests if is_summary_request(b)]
    assert summaries and {b["model"] for b in summaries} == {"cheap-summary"}
    assert "tools" not in summaries[0]
    assert usage["cheap-summary"]["requests"] == len(summaries)
    # each summary folds in the one before it
    assert "Previous summary:\nSummary 1:" in summaries[1]["messages"][1]["content"]
    record = next(m for m in history if is_compaction(m))
    assert record.metadata["compaction"]["model"] == "cheap-summary"
    assert record.metadata["compaction"]["summarised"] > 0


# -- where the cut falls, over random histories ---------------------------------------------


@pytest.mark.parametrize("block", range(3))
def test_a_cut_never_separates_a_tool_call_from_its_result(block: int) -> None:
    for seed in range(block * 400, (block + 1) * 400):
        rnd = random.Random(seed)
        history = drop_broken_tool_exchanges(random_history(rnd))
        # a cut starts from the last one (or the beginning): never at a tool result
        start = rnd.choice([i for i, m in enumerate(history) if m.role != "tool"] or [0])
        max_tokens = rnd.choice([0, 20, 100, 400, 5000])
        max_messages = rnd.choice([1, 2, 4, 10, 100])
        try:
            cut = choose_cut(history, start, max_tokens, max_messages)
            assert start <= cut <= max(start, len(history))
            assert cut == len(history) or history[cut].role != "tool"
            window = messages_from(history, cut)
            assert problems(window) == []
            before = [m for m in history[:cut] if m.role == "assistant" and m.tool_calls]
            ids = {i for m in before for i in m.tool_call_ids}
            assert not [m for m in history[cut:] if m.role == "tool" and m.tool_call_id in ids]
            if cut > start:  # the cut moved on only because all from `start` was too much
                rest = history[start:]
                if rest and rest[0].role != "user":  # the turn's question goes in front
                    rest += [m for m in history[:start] if m.role == "user"][-1:]
                too_many = sum(estimate_tokens(m) for m in rest) > max_tokens
                assert too_many or len(rest) > max_messages
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc


def test_the_transcript_keeps_the_newest_part_and_clips_long_messages() -> None:
    messages = [Message(role="user", content=f"question {i} " + "q" * 3000) for i in range(5)] + [
        Message(
            role="assistant",
            tool_calls=[
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
            ],
        ),
        Message(role="tool", content="found", tool_call_id="c1", metadata={"tool": "look"}),
    ]
    text = render_transcript(messages, 5000)
    assert len(text) <= 5000 + 40
    assert text.startswith("[3 older messages omitted]\n[user] question 3 ")
    assert text.endswith("[assistant] [calls: look({})]\n[tool result look] found")
    assert " …" in text  # the 3,000-character message was clipped
    assert render_transcript(messages, 10) == "[tool resu"
