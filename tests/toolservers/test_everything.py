"""The reference MCP server (@modelcontextprotocol/server-everything) over Streamable HTTP and
stdio: the model sees its tools and calls them through the agent loop of the real bot."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from src.channels.telegram import texts
from tests.harness import OWNER, ROOT, BotRunner, free_port
from tests.peers.openai_server import Reply
from tests.toolservers.peers import MCPPeers, everything_command


def offered_tools(bots: BotRunner, request: int = 0) -> list[str]:
    return [t["function"]["name"] for t in bots.model.chat_requests()[request].get("tools", [])]


def tool_results(bots: BotRunner, request: int) -> list[str]:
    messages = bots.model.chat_requests()[request]["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"]


async def ask(bots: BotRunner, text: str, replies: int = 1) -> list[dict[str, Any]]:
    bots.telegram.push_message(OWNER, text)
    return await bots.telegram.wait_for_messages(OWNER, replies, timeout=20)


async def test_http_server_tools_are_called_through_the_agent_loop(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp={"mcpServers": {"everything": {"url": server.url}}})
    bots.model.enqueue(
        Reply.tool("everything__echo", message="hi"),
        Reply.tool("everything__get-sum", a=2, b=3),
        Reply(text="done"),
    )
    sent = await ask(bots, "echo and add, please")
    assert sent[0]["text"] == "done"
    tools = offered_tools(bots)
    assert {"everything__echo", "everything__get-sum", "get_current_time"} <= set(tools)
    assert tool_results(bots, 2) == ["Echo: hi", "The sum of 2 and 3 is 5."]
    assert not bots.model.invalid_requests


async def test_stdio_server_tools_are_called_through_the_agent_loop(bots: BotRunner) -> None:
    command = everything_command()
    await bots.start(mcp={"mcpServers": {"local": {"command": command, "args": ["stdio"]}}})
    bots.model.enqueue(
        Reply(
            tool_calls=[
                ("local__echo", {"message": "over stdio"}),
                ("local__get-sum", {"a": 1, "b": 1}),
            ]
        ),
        Reply(text="done"),
    )
    sent = await ask(bots, "two tools at once")
    assert sent[0]["text"] == "done"
    assert "local__echo" in offered_tools(bots)
    assert tool_results(bots, 1) == ["Echo: over stdio", "The sum of 1 and 1 is 2."]
    assert not bots.model.invalid_requests


async def test_structured_content_as_text_images_and_resources_as_files(
    bots: BotRunner, mcp_peers: MCPPeers
) -> None:
    server = await mcp_peers.everything()
    await bots.start(mcp={"mcpServers": {"ev": {"url": server.url}}})
    calls: list[tuple[str, dict[str, Any] | str]] = [
        ("ev__get-structured-content", {"location": "Chicago"}),
        ("ev__get-tiny-image", {}),
        ("ev__get-resource-reference", {"resourceType": "Text", "resourceId": 2}),
        ("ev__get-resource-links", {"count": 1}),
    ]
    bots.model.enqueue(Reply(tool_calls=calls), Reply(text="seen"))
    await ask(bots, "show me everything")
    structured, image, resource, link = tool_results(bots, 1)
    assert json.loads(structured) == {
        "temperature": 36,
        "conditions": "Light rain / drizzle",
        "humidity": 82,
    }
    assert "[image sent to the user: image-1.png, " in image and "iVBOR" not in image
    assert "[resource demo://resource/dynamic/text/2 (text/plain)]\nResource 2:" in resource
    assert resource.endswith("\n[file sent to the user: 2.txt, 62 bytes]")  # also a file
    assert "[resource link: " in link and "<demo://resource/dynamic/" in link


async def test_include_and_exclude_choose_the_tools(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.everything()
    only = {"include": ["get-*", "echo"], "exclude": ["get-env", "get-*-image"]}
    await bots.start(mcp={"mcpServers": {"ev": {"url": server.url, "tools": only}}})
    await ask(bots, "which tools?")
    mcp_tools = sorted(name for name in offered_tools(bots) if name.startswith("ev__"))
    assert mcp_tools == [
        "ev__echo",
        "ev__get-annotated-message",
        "ev__get-resource-links",
        "ev__get-resource-reference",
        "ev__get-structured-content",
        "ev__get-sum",
    ]


async def test_tools_command_is_for_admins(bots: BotRunner, mcp_peers: MCPPeers) -> None:
    server = await mcp_peers.everything()
    admin, user = OWNER, OWNER + 1
    down = f"http://127.0.0.1:{free_port()}/mcp"
    await bots.start(
        mcp={"mcpServers": {"ev": {"url": server.url}, "gone": {"url": down}}},
        telegram={"allowed_user_ids": [user], "admin_user_ids": [admin]},
    )
    bots.telegram.push_message(admin, "/tools")
    report = (await bots.telegram.wait_for_messages(admin, 1))[0]["text"]
    lines = report.splitlines()
    assert lines[0].startswith("ev (http): up; tools: ev__echo, ")
    assert lines[1] == "gone (http): down - cannot connect"
    bots.telegram.push_message(user, "/tools")
    assert (await bots.telegram.wait_for_messages(user, 1))[0]["text"] == texts.ADMINS_ONLY
    assert bots.model.request_count == 0


async def test_check_lists_each_server_and_its_tools(
    bots: BotRunner, mcp_peers: MCPPeers, tmp_path: Path
) -> None:
    server = await mcp_peers.everything()
    servers: dict[str, Any] = {
        "ev": {"url": server.url},
        "local": {"command": everything_command(), "args": ["stdio"]},
        "off": {"url": "http://127.0.0.1:9/mcp", "disabled": True},
    }
    mcp_file = tmp_path / "mcp.yml"
    mcp_file.write_text(yaml.safe_dump({"mcpServers": servers}))
    code, output = await _check(bots, tmp_path, mcp_file)
    assert code == 0, output
    assert re.search(r"^ok +mcp:ev +\(http\): up; tools: ev__echo, ev__get-annotated", output, re.M)
    assert re.search(r"^ok +mcp:local +\(stdio\): up; tools: local__echo, ", output, re.M)
    assert re.search(r"^ok +mcp:off +\(http\): disabled$", output, re.M)

    servers["broken"] = {"command": "no-such-mcp-server-command"}
    mcp_file.write_text(yaml.safe_dump({"mcpServers": servers}))
    code, output = await _check(bots, tmp_path, mcp_file)
    assert code == 1
    expected = r"^FAIL +mcp:broken +\(stdio\): down - command not found: no-such-mcp-server"
    assert re.search(expected, output, re.M)
    assert "Traceback" not in output


async def _check(bots: BotRunner, tmp_path: Path, mcp_file: Path) -> tuple[int, str]:
    config = bots.write_config()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "telegram_bot.py"),
        "--check",
        "--config",
        str(config),
        "--mcp-config",
        str(mcp_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, **bots.env},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    return await process.wait(), output.decode()
