"""The console's operator has a memory of their own (owner 0), through the Coordinator as the
console drives it; a store that fails to read the memory does not fail the turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.agents.types import Request
from src.errors import ConversationError
from src.memory.facts import CONSOLE_OWNER, KIND
from tests.direct import direct, system_prompt
from tests.peers.openai_server import FakeOpenAI, Reply


async def test_the_console_remembers_under_its_own_owner(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, memory={"enabled": True}) as bot:
        console = bot.coordinator
        model.enqueue(Reply.tool("remember", fact="The operator drinks tea"), Reply(text="Ok."))
        await console.process_request(Request("console", "remember: tea", source="console"))
        [record] = await bot.storage.records.find(KIND, user_id=CONSOLE_OWNER)
        assert record.data["text"] == "The operator drinks tea"
        assert record.data["conversation"] == "console"

        await console.reset("console")
        await console.process_request(Request("console", "tea or coffee?", source="console"))
        assert '"fact": "The operator drinks tea"' in system_prompt(model.last_request())
        listing = await console.handle_command("console", "/memory", None)
        assert listing.startswith("I remember 1 fact about you:")
        await bot.ask("hello")  # user 1: a memory of their own, empty
        assert "## Memory" not in system_prompt(model.last_request())
        await console.process_request(Request("c2", "no user, not the console"))
        assert "## Memory" not in system_prompt(model.last_request())  # nobody's memory


async def test_a_memory_that_cannot_be_read_leaves_the_turn_without_it(
    tmp_path: Path, model: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with direct(tmp_path, model, memory={"enabled": True}) as bot:
        memory = bot.coordinator.memory
        assert memory is not None
        memory.store.records = _Failing()  # type: ignore[assignment]
        response = await bot.ask("hello")
    assert response.text == "echo: hello"
    assert "## Memory" not in system_prompt(model.last_request())
    assert "memory not read" in caplog.text


class _Failing:
    """A records store whose reads fail, as a DynamoDB outage would."""

    async def find(self, *args: object, **kwargs: object) -> list[object]:
        raise ConversationError("the records store is down")
