"""/agent and /usage through the real bot, the local Telegram server and the scripted model."""

from __future__ import annotations

from typing import Any

from src.agents.routing import PINNED_KEY
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import Reply

AGENTS: dict[str, Any] = {
    "default": "assistant",
    "list": [
        {
            "name": "assistant",
            "description": "Everyday questions",
            "system_prompt": "You are the assistant.",
        },
        {
            "name": "coder",
            "description": "Writes code",
            "system_prompt": "You are the coder.",
            "tools": [],
        },
    ],
    "prices": {"test-model": {"input": 2.5, "output": 10.0}},
}


async def say(bots: BotRunner, text: str) -> str:
    """Send one message as the owner; return the bot's next reply."""
    before = len(bots.telegram.sent_messages(OWNER))
    bots.telegram.push_message(OWNER, text)
    sent = await bots.telegram.wait_for_messages(OWNER, before + 1)
    return str(sent[before]["text"])


def prompt_of_last_request(bots: BotRunner) -> str:
    return str(bots.model.last_request()["messages"][0]["content"])


async def test_an_agent_pinned_with_slash_agent_survives_a_restart(bots: BotRunner) -> None:
    first = await bots.start(agents=AGENTS)
    menu = {c["command"] for c in bots.telegram.commands}
    assert {"agent", "usage"} <= menu

    listing = await say(bots, "/agent")
    assert "• assistant: Everyday questions (default)" in listing
    assert "• coder: Writes code" in listing
    assert await say(bots, "/agent coder") == (
        "From now on the coder agent answers in this chat. /agent auto undoes this."
    )
    assert bots.model.request_count == 0  # commands cost no model tokens
    assert await first.stop() == 0

    await bots.start(agents=AGENTS)
    await say(bots, "write a loop")
    assert prompt_of_last_request(bots) == "You are the coder."
    assert "• coder: Writes code (pinned for this chat)" in await say(bots, "/agent")
    history = await bots.history(str(OWNER))
    assert history[-1].metadata["agent"] == "coder"
    assert history[-1].metadata["route"] == {"agent": "coder", "via": "pinned"}

    assert await say(bots, "/agent auto") == "Back to automatic: the assistant agent answers."
    await say(bots, "and now?")
    assert prompt_of_last_request(bots) == "You are the assistant."
    assert PINNED_KEY not in await bots.store().load_metadata(str(OWNER))


async def test_slash_agent_with_an_unknown_name_says_which_exist(bots: BotRunner) -> None:
    await bots.start(agents=AGENTS)
    reply = await say(bots, "/agent wizard")
    assert reply.startswith("There's no agent called 'wizard'. The agents: assistant, coder.")
    assert PINNED_KEY not in await bots.store().load_metadata(str(OWNER))
    reply = await say(bots, "/agent CODER")  # names are matched without case
    assert reply.startswith("From now on the coder agent answers")


async def test_usage_totals_match_what_the_server_reported(bots: BotRunner) -> None:
    reported: list[dict[str, int]] = []

    def handler(body: dict[str, Any]) -> Reply:
        usage = {
            "prompt_tokens": 1000 + 37 * len(reported),
            "completion_tokens": 50 + 3 * len(reported),
        }
        reported.append(usage)
        last = body["messages"][-1]
        if last["role"] == "user" and "time" in last["content"]:
            return Reply(tool_calls=[("get_current_time", {})], usage=usage)
        return Reply(text="Noted.", usage=usage)

    bots.model.set_handler(handler)
    await bots.start(agents=AGENTS)
    assert await say(bots, "/usage") == "No model usage in this chat yet."
    for text in ("hello", "what time is it?", "thanks"):
        await say(bots, text)

    reply = await say(bots, "/usage")
    prompt = sum(u["prompt_tokens"] for u in reported)
    completion = sum(u["completion_tokens"] for u in reported)
    cost = (prompt * 2.5 + completion * 10.0) / 1e6
    assert len(reported) == 4  # the tool call took a second request
    assert reply == (
        "This chat used 4 model request(s):\n"
        f"• test-model: {prompt:,} prompt + {completion:,} completion "
        f"= {prompt + completion:,} tokens\n"
        f"Estimated cost: ${cost:,.4f}\n"
        # The user's own spend, counted by the ledger call by call, says the same.
        f"You, today: {prompt + completion:,} tokens, ${cost:,.4f} (4 request(s))\n"
        f"You, this month: {prompt + completion:,} tokens, ${cost:,.4f} (4 request(s))"
    )
    # The same numbers are in the stored messages, turn by turn.
    history = await bots.history(str(OWNER))
    stored = [m.metadata["usage"] for m in history if m.role == "assistant"]
    assert sum(u["prompt_tokens"] for u in stored) == prompt
    assert sum(u["completion_tokens"] for u in stored) == completion

    assert (await say(bots, "/usage please")) == "Only an admin can see another user's usage."


async def test_usage_names_models_without_a_price(bots: BotRunner) -> None:
    bots.model.set_handler(
        lambda body: Reply(text="hi", usage={"prompt_tokens": 10, "completion_tokens": 2})
    )
    await bots.start(agents={**AGENTS, "prices": {}})
    await say(bots, "hello")
    reply = await say(bots, "/usage")
    assert "Estimated cost" not in reply
    assert "No price set for: test-model" in reply
