"""memory.auto_extract: after a turn one cheap call (the classifier's model) proposes facts,
kept like remembered ones and counted like every model call; off means no call at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from src.conversation import settings
from src.conversation.usage import UsageTotals
from src.memory.extract import PROMPT, proposed
from src.memory.facts import KIND
from tests.direct import direct, system_prompt
from tests.peers.openai_server import FakeOpenAI, Reply

USAGE = {"prompt_tokens": 100, "completion_tokens": 10}
AUTO: dict[str, Any] = {
    "memory": {"enabled": True, "auto_extract": True},
    "agents": {"classifier": {"model": "cheap-model"}},
}


def extraction(answer: str) -> Any:
    """A model that answers the extraction call with `answer` and echoes everything else."""

    def handler(body: dict[str, Any]) -> Reply:
        if system_prompt(body) == PROMPT:
            return Reply(text=answer, usage=USAGE)
        last = body["messages"][-1]["content"]
        return Reply(text=f"echo: {last}", usage=USAGE)

    return handler


def test_proposed_reads_the_first_json_array_of_strings() -> None:
    assert proposed('["The user is vegetarian", " ", 3, "Has a cat"]') == [
        "The user is vegetarian",
        "Has a cat",
    ]
    assert proposed('Sure! ```json\n["Lives in Lyon"]\n```') == ["Lives in Lyon"]
    assert proposed("[]") == []
    assert proposed("nothing to keep") == []
    assert proposed("[not json]") == []
    assert proposed('{"facts": "x"}') == []


async def test_facts_are_noticed_after_the_turn_and_the_call_is_counted(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    model.set_handler(extraction('["The user is vegetarian", "' + "x" * 600 + '"]'))
    async with direct(tmp_path, model, **AUTO) as bot:
        memory = bot.coordinator.memory
        assert memory is not None
        response = await bot.ask("I'm vegetarian; any dinner ideas?")
        assert response.text == "echo: I'm vegetarian; any dinner ideas?"  # not waiting for it
        await memory.idle()
        [record] = await bot.storage.records.find(KIND, user_id=1)  # the 600 chars: refused
        assert (record.data["text"], record.data["source"]) == ("The user is vegetarian", "auto")
        [turn, extract] = model.chat_requests()
        assert (turn["model"], extract["model"]) == ("test-model", "cheap-model")
        assert '"user": "I\'m vegetarian; any dinner ideas?"' in extract["messages"][1]["content"]
        assert "tools" not in extract

        totals = UsageTotals.from_metadata(await settings.load(bot.storage.records, "chat"))
        assert totals.by_model["cheap-model"].requests == 1  # the chat's /usage counts it
        spend = await bot.coordinator.limits.ledger.spend(1)
        assert spend.month.requests == 2 and spend.month.tokens == 220  # so does the user's

        await bot.ask("and for lunch?")
        await memory.idle()
        assert '"fact": "The user is vegetarian"' in system_prompt(model.chat_requests()[2])
        assert (
            '"known": ["The user is vegetarian"]'
            in model.chat_requests()[3]["messages"][1]["content"]
        )
        listing = await bot.coordinator.handle_command("chat", "/memory", 1)
        assert "The user is vegetarian (" in listing and "noticed by me)" in listing


async def test_off_means_no_extra_call(tmp_path: Path, model: FakeOpenAI) -> None:
    model.set_handler(extraction('["Should never be asked"]'))
    async with direct(tmp_path, model, memory={"enabled": True}) as bot:
        await bot.ask("I'm vegetarian")
        await bot.ask("I live in Lyon")
    assert model.request_count == 2
    assert all(system_prompt(body) != PROMPT for body in model.chat_requests())


async def test_a_failing_extraction_costs_only_itself(tmp_path: Path, model: FakeOpenAI) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        if system_prompt(body) == PROMPT:
            return Reply.error(500, "extraction broke")
        return Reply(text="fine")

    model.set_handler(handler)
    async with direct(tmp_path, model, **AUTO) as bot:
        memory = bot.coordinator.memory
        assert memory is not None
        assert (await bot.ask("I'm vegetarian")).text == "fine"
        await memory.idle()
        assert await bot.storage.records.find(KIND, user_id=1) == []
        assert (await bot.ask("still there?")).text == "fine"
        await memory.idle()
