"""The turn context: set for the whole turn by the Coordinator, seen by the tools it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from src.errors import ToolError
from src.tools.base import Tool
from src.tools.context import TurnContext, current_turn, turn_context
from tests.direct import direct
from tests.peers.openai_server import FakeOpenAI, Reply


class WhoAsked(Tool):
    name = "who_asked"
    description = "Says whose turn it is."

    def __init__(self) -> None:
        self.parameters = {"type": "object", "properties": {}}

    async def execute(self, arguments: dict[str, Any]) -> str:
        turn = current_turn()
        return f"{turn.conversation_id}/{turn.user_id}/{turn.chat_type}"


async def test_outside_a_turn_a_tool_gets_an_error() -> None:
    with pytest.raises(ToolError):
        current_turn()


async def test_the_context_reaches_tasks_started_in_the_turn() -> None:
    with turn_context(TurnContext("c", 7)):
        assert (await asyncio.create_task(_who())).user_id == 7
    with pytest.raises(ToolError):
        current_turn()  # and it ends with the turn


async def _who() -> TurnContext:
    return current_turn()


async def test_a_tool_called_by_the_model_sees_the_requesting_user(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    model.enqueue(Reply.tool("who_asked"), Reply(text="done"))
    async with direct(tmp_path, model) as bot:
        bot.coordinator.tools.register(WhoAsked())
        await bot.ask("who am I?")
    tool_result = model.last_request()["messages"][-1]
    assert tool_result["role"] == "tool" and tool_result["content"] == "chat/1/private"
