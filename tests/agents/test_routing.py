"""Routing modes against the scripted model server: which agent's prompt reaches the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.agents.routing import CLASSIFIER_PROMPT, PINNED_KEY
from tests.direct import direct, system_prompt, tool_names
from tests.peers.openai_server import FakeOpenAI, Reply

CLASSIFIER_MARK = CLASSIFIER_PROMPT.split("\n", 1)[0]

AGENTS: dict[str, Any] = {
    "default": "assistant",
    "list": [
        {
            "name": "assistant",
            "description": "General questions and small talk",
            "system_prompt": "You are the assistant.",
            "tools": ["get_current_time"],
        },
        {
            "name": "coder",
            "description": "Writes and debugs code",
            "system_prompt": "You are the coder.",
            "model": "code-model",
            "temperature": 0.1,
            "tools": [],
        },
        {
            "name": "researcher",
            "description": "Looks things up and compares sources",
            "system_prompt": "You are the researcher.",
            "tools": [],
        },
    ],
}


def classify(**classifier: Any) -> dict[str, Any]:
    return {**AGENTS, "routing": "classify", "classifier": {"model": "cheap", **classifier}}


def agent_requests(model: FakeOpenAI) -> list[str]:
    """The system prompt of each agent request (classifier requests left out)."""
    prompts = [system_prompt(body) for body in model.requests]
    return [p for p in prompts if not p.startswith(CLASSIFIER_MARK)]


def classifier_requests(model: FakeOpenAI) -> list[dict[str, Any]]:
    return [b for b in model.requests if system_prompt(b).startswith(CLASSIFIER_MARK)]


def answer_classifier(answer: Reply) -> Any:
    def handler(body: dict[str, Any]) -> Reply:
        if system_prompt(body).startswith(CLASSIFIER_MARK):
            return answer
        return Reply(text=f"{system_prompt(body)} answers")

    return handler


async def test_single_routing_uses_the_default_agent(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        response = await bot.ask("write me a python script")
    assert response.agent == "assistant"
    assert agent_requests(model) == ["You are the assistant."]
    assert tool_names(model.last_request()) == ["get_current_time"]


async def test_the_agent_model_and_temperature_are_used(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, agents={**AGENTS, "default": "coder"}) as bot:
        await bot.ask("hi")
    request = model.last_request()
    assert (request["model"], request["temperature"]) == ("code-model", 0.1)
    assert "tools" not in request  # the coder may use no tools


async def test_classify_picks_the_agent_the_classifier_names(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    model.set_handler(answer_classifier(Reply(text=" Researcher.\n")))
    async with direct(tmp_path, model, agents=classify()) as bot:
        response = await bot.ask("compare three sources on tides")
        history = await bot.store.load_conversation("chat")
    assert response.agent == "researcher"
    assert agent_requests(model) == ["You are the researcher."]
    (asked,) = classifier_requests(model)
    assert asked["model"] == "cheap" and "tools" not in asked
    assert "- coder: Writes and debugs code" in system_prompt(asked)
    assert asked["messages"][-1] == {"role": "user", "content": "compare three sources on tides"}
    route = history[-1].metadata["route"]
    assert route["agent"] == "researcher" and route["via"] == "classifier"
    assert route["model"] == "cheap" and route["usage"]["prompt_tokens"] > 0


async def test_a_keyword_shortcut_skips_the_classifier(tmp_path: Path, model: FakeOpenAI) -> None:
    agents = classify(keywords={"coder": ["python", "stack trace"], "researcher": ["sources"]})
    async with direct(tmp_path, model, agents=agents) as bot:
        first = await bot.ask("Why does my PYTHON loop hang?")
        second = await bot.ask("here is the Stack  Trace")  # not the phrase: classifier asked
        third = await bot.ask("pythonic sources")  # "pythonic" is not the word python
    assert first.agent == "coder"
    assert third.agent == "researcher"
    assert second.agent == "assistant"  # the echoing classifier's answer is not an agent name
    assert len(classifier_requests(model)) == 1


async def test_keywords_of_two_agents_leave_it_to_the_classifier(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    model.set_handler(answer_classifier(Reply(text="coder")))
    agents = classify(keywords={"coder": ["python"], "researcher": ["sources"]})
    async with direct(tmp_path, model, agents=agents) as bot:
        response = await bot.ask("python sources")
    assert response.agent == "coder"
    assert len(classifier_requests(model)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        Reply(status=500),  # the classifier's endpoint fails
        Reply(status=400, error_message="model not found"),
        Reply(text="coder or researcher, hard to say"),  # doubt
        Reply(text="the-boss"),  # not an agent
        Reply(text=""),
        Reply(delay_s=2.0, text="coder"),  # too slow: classifier.timeout_s
    ],
    ids=["error-500", "error-400", "doubt", "unknown-name", "empty", "timeout"],
)
async def test_any_classifier_doubt_or_error_means_the_default_agent(
    tmp_path: Path, model: FakeOpenAI, answer: Reply
) -> None:
    model.set_handler(answer_classifier(answer))
    async with direct(tmp_path, model, agents=classify(timeout_s=0.3)) as bot:
        response = await bot.ask("something")
        history = await bot.store.load_conversation("chat")
    assert response.agent == "assistant"
    assert response.text == "You are the assistant. answers"
    assert agent_requests(model) == ["You are the assistant."]
    assert history[-1].metadata["route"]["via"] == "fallback"
    assert not model.invalid_requests


async def test_a_pinned_agent_overrides_every_routing_mode(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    model.set_handler(answer_classifier(Reply(text="researcher")))
    async with direct(tmp_path, model, agents=classify(keywords={"coder": ["python"]})) as bot:
        await bot.store.save_metadata("chat", {PINNED_KEY: "researcher"})
        first = await bot.ask("python please")
        await bot.store.save_metadata("chat", {PINNED_KEY: "retired-agent"})  # config changed
        second = await bot.ask("python please")
    assert first.agent == "researcher"
    assert second.agent == "coder"  # an unknown pin is ignored; the keyword decides
    assert classifier_requests(model) == []


async def test_classifier_usage_counts_in_the_chat_totals(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        if system_prompt(body).startswith(CLASSIFIER_MARK):
            return Reply(text="coder", usage={"prompt_tokens": 70, "completion_tokens": 1})
        return Reply(text="ok", usage={"prompt_tokens": 30, "completion_tokens": 5})

    model.set_handler(handler)
    async with direct(tmp_path, model, agents=classify()) as bot:
        await bot.ask("fix it")
        usage = (await bot.store.load_metadata("chat"))["usage"]["by_model"]
        spend = await bot.coordinator.limits.ledger.spend(1)
    assert usage["cheap"] == {
        "requests": 1,
        "prompt_tokens": 70,
        "completion_tokens": 1,
        "unreported": 0,
        "cached_tokens": 0,
    }
    # The user's spend counts the classifier's request too.
    assert (spend.day.requests, spend.day.tokens) == (2, 70 + 1 + 30 + 5)
    assert usage["code-model"]["prompt_tokens"] == 30
