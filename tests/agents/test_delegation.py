"""`routing: delegate`: ask_<agent> tools, sub-agents with their own tools, bounded depth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from src.agents.delegation import NO_ANSWER
from tests.direct import TextTool, direct, system_prompt, tool_names
from tests.peers.openai_server import FakeOpenAI, Reply


def agent(name: str, tools: list[str], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "description": description or f"The {name}",
        "system_prompt": f"You are {name}.",
        "tools": tools,
    }


DELEGATE: dict[str, Any] = {
    "routing": "delegate",
    "default": "lead",
    "list": [
        agent("lead", ["get_current_time"], "Talks to the user"),
        agent("coder", ["code__*"], "Writes and runs code"),
        agent("scout", ["web__*"], "Searches the web"),
    ],
}


def who(body: dict[str, Any]) -> str:
    return system_prompt(body).removeprefix("You are ").removesuffix(".")


def last(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["messages"][-1])


async def test_the_lead_delegates_and_the_coder_uses_only_its_own_tools(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    run, search = TextTool("code__run", "printed: hello"), TextTool("web__search", "results")

    def handler(body: dict[str, Any]) -> Reply:
        me, message = who(body), last(body)
        if me == "lead":
            if message["role"] == "user":
                return Reply.tool("ask_coder", task="Run print('hello') and tell me the output.")
            return Reply(text=f"The coder says: {message['content']}")
        assert me == "coder"
        if message["role"] == "user":
            return Reply.tool("web__search", q="how to print")  # not the coder's tool
        if message["content"].startswith("Error"):
            return Reply.tool("code__run", q="print('hello')")
        return Reply(text="It printed hello.")

    model.set_handler(handler)
    async with direct(tmp_path, model, tools=[run, search], agents=DELEGATE) as bot:
        response = await bot.ask("what does print('hello') print?")
        history = await bot.store.load_conversation("chat")
        usage = (await bot.store.load_metadata("chat"))["usage"]["by_model"]["test-model"]

    assert response.agent == "lead"
    assert response.text == "The coder says: It printed hello."
    bodies = model.requests
    assert [who(b) for b in bodies] == ["lead", "coder", "coder", "coder", "lead"]
    assert sorted(tool_names(bodies[0])) == ["ask_coder", "ask_scout", "get_current_time"]
    assert tool_names(bodies[1]) == ["code__run"]  # no ask tools at depth 1 (the default)
    sub_task = bodies[1]["messages"]
    assert [m["role"] for m in sub_task] == ["system", "user"]  # it does not see the chat
    assert sub_task[1]["content"] == "Run print('hello') and tell me the output."
    assert last(bodies[2])["content"] == "Error: there is no tool named 'web__search'"
    assert search.calls == [] and run.calls == [{"q": "print('hello')"}]
    assert not model.invalid_requests

    # The chat's history holds the delegation as one tool exchange; the sub-task's own
    # messages are not part of it. Its usage is counted with the rest.
    assert [(m.role, m.metadata.get("tool")) for m in history] == [
        ("user", None),
        ("assistant", None),
        ("tool", "ask_coder"),
        ("assistant", None),
    ]
    assert history[2].content == "It printed hello."
    (delegation,) = history[-1].metadata["delegations"]
    assert delegation["agent"] == "coder" and delegation["asked_by"] == "lead"
    assert delegation["depth"] == 1 and delegation["tool_calls"] == 2
    assert usage["requests"] == 5


async def test_delegation_depth_is_bounded(tmp_path: Path, model: FakeOpenAI) -> None:
    agents = {
        **DELEGATE,
        "max_delegation_depth": 2,
        "list": [agent("a", []), agent("b", []), agent("c", [])],
        "default": "a",
    }
    offered: dict[str, list[str]] = {}

    def handler(body: dict[str, Any]) -> Reply:
        me, message = who(body), last(body)
        offered.setdefault(me, sorted(tool_names(body)))
        if message["role"] == "tool":
            return Reply(text=f"{me} got: {message['content']}")
        if me == "a":
            return Reply.tool("ask_b", task="ask c")
        if me == "b":
            return Reply.tool("ask_c", task="do it")
        return Reply.tool("ask_a", task="one more level")  # c tries to go deeper

    model.set_handler(handler)
    async with direct(tmp_path, model, agents=agents) as bot:
        response = await bot.ask("go")

    assert offered == {"a": ["ask_b", "ask_c"], "b": ["ask_c"], "c": []}
    assert response.text == ("a got: b got: c got: Error: there is no tool named 'ask_a'")
    assert [who(b) for b in model.requests] == ["a", "b", "c", "c", "b", "a"]
    assert not model.invalid_requests


async def test_a_failing_sub_agent_becomes_an_error_the_lead_can_explain(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        me, message = who(body), last(body)
        if me == "scout":
            return Reply(status=503)
        if message["role"] == "user":
            return Reply.tool("ask_scout", task="find the weather")
        return Reply(text=f"Sorry: {message['content']}")

    model.set_handler(handler)
    async with direct(tmp_path, model, agents=DELEGATE) as bot:
        response = await bot.ask("weather?")
    assert response.text == (
        "Sorry: Error: the scout agent could not finish: the model endpoint answered 503"
    )
    assert not model.invalid_requests


async def test_bad_delegation_arguments_go_back_to_the_model(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    lead_turns = [
        Reply.tool("ask_coder", topic="no task"),
        Reply.tool("ask_coder", task="   "),
        Reply.tool("ask_coder", task="write it"),
        Reply(text="done"),
    ]

    def handler(body: dict[str, Any]) -> Reply:
        if who(body) == "coder":
            return Reply(text="")  # asked properly at last, the coder says nothing
        return lead_turns[sum(m["role"] == "tool" for m in body["messages"])]

    model.set_handler(handler)
    async with direct(tmp_path, model, agents=DELEGATE) as bot:
        response = await bot.ask("code please")
        history = await bot.store.load_conversation("chat")
    results = [m.content for m in history if m.role == "tool"]
    assert results[0] is not None and results[0].startswith("Error: invalid arguments")
    assert results[1] == "Error: the task is empty"
    assert results[2] == NO_ANSWER
    assert response.text == "done"


async def test_single_agent_config_offers_no_ask_tools(tmp_path: Path, model: FakeOpenAI) -> None:
    agents = {**DELEGATE, "list": [agent("lead", ["*"])]}
    async with direct(tmp_path, model, agents=agents) as bot:
        await bot.ask("hi")
    assert tool_names(model.last_request()) == ["get_current_time"]
    assert json.dumps(model.last_request()).count("ask_") == 0
