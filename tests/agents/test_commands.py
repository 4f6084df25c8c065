"""/agent and /usage through `Coordinator.handle_command` (the channel-independent hook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.agents.routing import PINNED_KEY
from src.conversation.budget import RATIO_KEY, corrected, stored_ratio, updated_ratio
from src.errors import ConversationError, UserInputError
from tests.direct import TextTool, direct, tool_names
from tests.peers.openai_server import FakeOpenAI
from tests.storeview import records_locked

AGENTS = {
    "routing": "classify",
    "list": [
        {"name": "assistant", "description": "Everything else"},
        {"name": "coder", "description": "Code"},
    ],
}


async def test_commands_are_offered_to_every_channel(tmp_path: Path, model: FakeOpenAI) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        assert set(bot.coordinator.commands()) == {
            "agent",
            "usage",
            "model",
            "allow",
            "deny",
            "users",
            "invite",
            "audit",
        }


async def test_a_command_addressed_to_the_bot_by_name_works(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        reply = await bot.coordinator.handle_command("g", "/agent@MyAssistantBot  coder ", 1)
        assert reply.startswith("From now on the coder agent answers")
        assert (await bot.store.load_metadata("g"))[PINNED_KEY] == "coder"
        listing = await bot.coordinator.handle_command("g", "/agent", 1)
        assert "• coder: Code (pinned for this chat)" in listing
        reply = await bot.coordinator.handle_command("g", "/agent auto", 1)
        assert reply == "Back to automatic: I pick the agent for each message."


async def test_a_pin_to_an_agent_that_was_removed_is_reported(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        await bot.store.save_metadata("c", {PINNED_KEY: "poet"})
        listing = await bot.coordinator.handle_command("c", "/agent", None)
    assert "The pinned agent 'poet' no longer exists; I pick the agent" in listing


async def test_unknown_commands_and_arguments_are_user_errors(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        with pytest.raises(UserInputError, match="I don't know that command"):
            await bot.coordinator.handle_command("c", "/agents", None)
        with pytest.raises(UserInputError, match="There's no agent called 'x y'"):
            await bot.coordinator.handle_command("c", "/agent x y", None)


async def test_a_store_failure_is_a_store_error_not_a_user_error(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    async with direct(tmp_path, model, agents=AGENTS) as bot:
        with records_locked(tmp_path / "conversations"), pytest.raises(ConversationError):
            await bot.coordinator.handle_command("c", "/agent coder", None)


async def test_an_existing_tool_named_like_an_ask_tool_wins(
    tmp_path: Path, model: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    agents = {**AGENTS, "routing": "delegate"}
    async with direct(tmp_path, model, tools=[TextTool("ask_coder")], agents=agents) as bot:
        await bot.ask("hi")
    assert tool_names(model.last_request()) == ["ask_coder", "get_current_time"]
    assert "tool ask_coder exists already; agent coder cannot be asked" in caplog.text


def test_the_estimate_ratio_rises_at_once_and_falls_slowly() -> None:
    assert stored_ratio({}) == 1.0
    assert stored_ratio({RATIO_KEY: "garbage"}) == 1.0
    assert stored_ratio({RATIO_KEY: 99}) == 4.0  # clamped
    assert updated_ratio(1.0, 1000, 1500) == 1.5
    assert updated_ratio(1.5, 1000, 1000) == pytest.approx(1.35)
    assert updated_ratio(1.0, 10, 500) == 1.0  # too small a sample to learn from
    assert updated_ratio(1.0, 1000, 0) == 1.0  # no usage reported
    assert corrected(1000, 1.35) == 1350
