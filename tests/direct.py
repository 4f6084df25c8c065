"""The Coordinator driven directly (no Telegram): a real FileStore, a real LLMClient talking
to the local FakeOpenAI, and the real tool registry, plus extra tools a test defines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from src.agents.coordinator import Coordinator
from src.agents.types import Request, Response
from src.config import Config, validate_model
from src.llm.client import LLMClient
from src.memory.service import create_memory
from src.runtime import build_tools
from src.store import create_storage
from src.tools.base import Tool
from tests.harness import merge
from tests.peers.openai_server import FakeOpenAI
from tests.storeview import StoreView


class TextTool(Tool):
    """A tool that answers with fixed text and remembers its calls (a stand-in for an MCP
    server's tool; the registry, schemas and argument checks around it are the real ones)."""

    def __init__(self, name: str, answer: str = "done") -> None:
        self.name = name
        self.description = f"Test tool {name}"
        self.parameters = {"type": "object", "properties": {"q": {"type": "string"}}}
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    async def execute(self, arguments: dict[str, Any]) -> str:
        self.calls.append(arguments)
        return self.answer


class Direct:
    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        self.storage = coordinator.storage
        self.store = StoreView(coordinator.storage)
        self._update = 0

    async def ask(self, text: str, conversation_id: str = "chat") -> Response:
        self._update += 1
        request = Request(conversation_id, text, user_id=1, update_id=self._update)
        return await self.coordinator.process_request(request)


def config_for(tmp_path: Path, model: FakeOpenAI, **overrides: Any) -> Config:
    base = {
        "llm": {
            "base_url": model.base_url,
            "api_key": "sk-test",
            "model": "test-model",
            "timeout_s": 5,
            "max_retries": 0,
        },
        "store": {"file": {"directory": str(tmp_path / "conversations"), "fsync": False}},
    }
    return validate_model(Config, merge(base, overrides), "config.yml")


@asynccontextmanager
async def direct(
    tmp_path: Path, model: FakeOpenAI, tools: list[Tool] | None = None, **overrides: Any
) -> AsyncIterator[Direct]:
    config = config_for(tmp_path, model, **overrides)
    storage = create_storage(config.store)
    await storage.open()
    llm = LLMClient(config.llm)
    memory = create_memory(config, storage.records, llm=llm)
    registry = build_tools(config, memory)
    for tool in tools or []:
        registry.register(tool)
    try:
        yield Direct(Coordinator(config, storage, llm, registry, memory=memory))
    finally:
        if memory is not None:
            await memory.close()
        await llm.aclose()
        await storage.close()


def system_prompt(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return str(first["content"]) if first["role"] == "system" else ""


def tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools") or []]


def request_chars(body: dict[str, Any]) -> int:
    """Everything in a request that a model reads: each message's text, the tool calls'
    names and arguments, and the tool definitions."""
    chars = 0
    for message in body["messages"]:
        content = message.get("content")
        chars += len(content) if isinstance(content, str) else 0
        for call in message.get("tool_calls") or []:
            chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    if body.get("tools"):
        chars += len(json.dumps(body["tools"], ensure_ascii=False))
    return chars
