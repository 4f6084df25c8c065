"""Plain HTTP tools (mcp.yml `tools:`) against a local aiohttp server: POST {"params": ...},
read {"result": ...} or {"error": ...}; errors, 500s and timeouts become errors for the model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from src.tools.registry import ToolRegistry
from src.toolservers.config import MCPFileConfig
from src.toolservers.manager import MCPManager
from tests.harness import OWNER, BotRunner, free_port
from tests.peers.openai_server import Reply
from tests.peers.serve import ServerThread, wait_until


class SearchService:
    """A local search endpoint whose answer each test chooses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200
        self.body: str = json.dumps({"result": {"hits": ["a", "b"]}})
        self.delay_s = 0.0
        self.answered = 0
        app = web.Application()
        app.router.add_post("/search", self._search)
        self.server = ServerThread(app)

    async def _search(self, request: web.Request) -> web.Response:
        self.requests.append((await request.json(), request.headers.get("Authorization")))
        await asyncio.sleep(self.delay_s)
        self.answered += 1
        return web.Response(status=self.status, text=self.body, content_type="application/json")

    @property
    def url(self) -> str:
        return f"{self.server.url}/search"


@pytest.fixture
def service() -> Iterator[SearchService]:
    search = SearchService()
    search.server.start()
    try:
        yield search
    finally:
        search.server.stop()


def tools_section(url: str, timeout: float = 5) -> dict[str, Any]:
    return {
        "search": {
            "url": url,
            "description": "Search the web",
            "timeout": timeout,
            "headers": {"Authorization": "Bearer ${SEARCH_TOKEN}"},
            "parameters": {
                "query": {"type": "string", "description": "The search query"},
                "limit": {"type": "integer", "description": "Max results", "default": 5},
            },
        }
    }


@pytest.fixture
async def registry(service: SearchService) -> AsyncIterator[ToolRegistry]:
    tools = ToolRegistry()
    section = tools_section(service.url, timeout=0.5)
    section["search"]["headers"] = {"Authorization": "Bearer t0ken"}
    manager = MCPManager(MCPFileConfig.model_validate({"tools": section}), tools)
    await manager.start()
    try:
        yield tools
    finally:
        await manager.close()


async def test_result_is_returned_with_defaults_and_headers(
    registry: ToolRegistry, service: SearchService
) -> None:
    result = await registry.execute("search", '{"query": "mcp"}')
    assert (result.content, result.is_error) == ('{"hits": ["a", "b"]}', False)
    assert service.requests == [({"params": {"limit": 5, "query": "mcp"}}, "Bearer t0ken")]
    schema = registry.schemas()[0]["function"]["parameters"]
    assert schema["required"] == ["query"] and schema["properties"]["limit"]["default"] == 5


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, '{"error": "quota exceeded"}', "Error: quota exceeded"),
        (200, '{"error": {"message": "bad query", "code": 7}}', "Error: bad query"),
        (500, '{"error": "offline"}', "Error: the search service failed (HTTP 500): offline"),
        (502, "<html>Bad gateway</html>", "Error: the search service failed (HTTP 502)"),
        (200, "<html>not json</html>", "Error: the search service sent an answer without a result"),
        (200, '{"data": 1}', "Error: the search service sent an answer without a result"),
    ],
)  # fmt: skip
async def test_failures_are_errors_for_the_model(
    registry: ToolRegistry, service: SearchService, status: int, body: str, expected: str
) -> None:
    service.status, service.body = status, body
    result = await registry.execute("search", '{"query": "mcp"}')
    assert (result.content, result.is_error) == (expected, True)


async def test_a_slow_service_times_out(registry: ToolRegistry, service: SearchService) -> None:
    service.delay_s = 1.5  # the tool's timeout is 0.5 s
    result = await registry.execute("search", '{"query": "slow"}')
    assert result.is_error and result.content == "Error: the tool search did not finish in time."
    await wait_until(lambda: service.answered == 1)  # let the local server finish cleanly
    service.delay_s = 0
    assert not (await registry.execute("search", '{"query": "fast"}')).is_error


async def test_a_service_that_is_down_is_an_error() -> None:
    tools = ToolRegistry()
    url = f"http://127.0.0.1:{free_port()}/search"
    manager = MCPManager(MCPFileConfig.model_validate({"tools": tools_section(url)}), tools)
    await manager.start()
    try:
        result = await tools.execute("search", '{"query": "anyone?"}')
    finally:
        await manager.close()
    assert (result.content, result.is_error) == (
        "Error: cannot reach the search service right now",
        True,
    )


async def test_the_model_calls_an_http_tool(bots: BotRunner, service: SearchService) -> None:
    section = tools_section(service.url)
    section["search"]["headers"]["Authorization"] = "Bearer ${SEARCH_TOKEN:-from-env}"
    await bots.start(mcp={"tools": section})
    bots.model.enqueue(Reply.tool("search", query="news", limit=2), Reply(text="found two"))
    bots.telegram.push_message(OWNER, "search the news")
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "found two"
    assert service.requests == [({"params": {"query": "news", "limit": 2}}, "Bearer from-env")]
    tool_message = bots.model.chat_requests()[1]["messages"][-1]
    assert tool_message == {
        "role": "tool",
        "content": '{"hits": ["a", "b"]}',
        "tool_call_id": tool_message["tool_call_id"],
    }
