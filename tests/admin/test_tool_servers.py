"""The tool servers page with real MCP servers: one up (our test server, a child process)
and one whose port refuses connections; a call's count and latency come from the metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.client import AdminClient, runtime_of, start_admin_bot
from tests.harness import BotRunner, free_port
from tests.toolservers.peers import MCPPeers


@pytest.fixture
def mcp_peers(tmp_path: Path) -> Iterator[MCPPeers]:
    peers = MCPPeers(tmp_path)
    try:
        yield peers
    finally:
        peers.close()


def _row(page: str, tool: str) -> str:
    found = re.search(rf"<tr>\s*<td><code>{tool}</code>.*?</tr>", page, re.DOTALL)
    assert found, tool
    return found.group(0)


async def test_state_tools_last_error_and_calls(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.ours()
    closed = free_port()  # nothing listens there
    mcp = {
        "mcpServers": {
            "admincalc": {"url": server.url},
            "gone": {"url": f"http://127.0.0.1:{closed}/mcp"},
        },
        "startup_wait": 10,
    }
    bot = await start_admin_bot(bots, mcp=mcp)
    registry = runtime_of(bot).tools
    result = await registry.execute("admincalc__add", '{"a": 2, "b": 3}')
    assert result.content == '{"result": 5}' and not result.is_error
    await registry.execute("admincalc__add", '{"a": "two"}')  # refused: invalid arguments
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        status, page, _ = await client.get("/tools")
    assert status == 200
    assert re.search(r"<h2>admincalc <span class=\"state up\">up</span>", page)
    assert re.search(r"<h2>gone <span class=\"state down\">down</span>", page)
    assert "Last error:" in page.split("<h2>gone")[1].split("</section>")[0]
    row = _row(page, "admincalc__add")  # a name of its own: the metrics are per process
    cells = re.findall(r"<td>(.*?)</td>", row, re.DOTALL)
    assert cells[1] == "2"  # calls
    assert cells[2] == "invalid_arguments 1, ok 1"
    assert re.fullmatch(r"\d+\.\d{3} s", cells[3])  # mean latency, from the histogram
    assert _row(page, "get_current_time")  # a built-in tool, listed apart
