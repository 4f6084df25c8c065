"""Files back to the user: images and embedded resources from our MCP test server
(tests/toolservers/server.py, over stdio) reach the chat as photos and documents after the
answer, and the model reads a note about each, never its bytes."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from src.channels.console import run_console
from src.tools.base import Tool, ToolResult
from src.tools.outbox import Outbox, OutgoingFile, not_deliverable
from tests.direct import direct
from tests.harness import OWNER, BotRunner
from tests.peers.openai_server import FakeOpenAI, Reply
from tests.peers.serve import wait_until
from tests.toolservers.peers import our_stdio_server
from tests.toolservers.server import png

MCP = {"mcpServers": {"t": our_stdio_server()}}
NO_STREAM: dict[str, Any] = {"telegram": {"streaming": False}}


def tool_results(bots: BotRunner, request: int = -1) -> list[str]:
    messages = bots.model.requests[request]["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"]


async def uploads(bots: BotRunner, count: int) -> list[tuple[str, str]]:
    await wait_until(lambda: len(bots.telegram.uploaded_names(OWNER)) >= count, timeout=15)
    return bots.telegram.uploaded_names(OWNER)


async def test_an_image_from_a_tool_is_sent_as_a_photo_after_the_answer(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    await bots.start(mcp=MCP, **NO_STREAM, **bot_store)
    bots.model.enqueue(Reply.tool("t__chart"), Reply(text="Here you go."))
    bots.telegram.push_message(OWNER, "draw me a chart")
    assert await uploads(bots, 1) == [("sendPhoto", "image-1.png")]
    ((_, data),) = bots.telegram.uploaded(OWNER)
    assert data == png()
    assert bots.telegram.texts(OWNER) == ["Here you go."]
    methods = [c.method for c in bots.telegram.calls() if c.chat_id == OWNER]
    assert methods.index("sendPhoto") > methods.index("sendMessage")  # after the answer
    (result,) = tool_results(bots)
    assert result == f"Here is the chart.\n[image sent to the user: image-1.png, {len(data)} bytes]"
    encoded = base64.b64encode(data).decode()
    bots.telegram.push_message(OWNER, "thanks")  # the stored history went back to the model
    await bots.telegram.wait_for_messages(OWNER, 2)
    request = str(bots.model.requests[-1])
    assert "[image sent to the user: image-1.png" in request and encoded not in request
    assert "iVBOR" not in request  # no base64 PNG anywhere in what the model gets
    assert not bots.model.invalid_requests


async def test_embedded_resources_are_sent_as_documents(bots: BotRunner) -> None:
    await bots.start(mcp=MCP, **NO_STREAM)
    calls: list[tuple[str, dict[str, Any] | str]] = [
        ("t__export", {"kind": "blob"}),
        ("t__export", {"kind": "text"}),
    ]
    bots.model.enqueue(Reply(tool_calls=calls), Reply(text="Sent."))
    bots.telegram.push_message(OWNER, "export the report")
    assert await uploads(bots, 2) == [("sendDocument", "sales.csv"), ("sendDocument", "notes.txt")]
    assert [d for _, d in bots.telegram.uploaded(OWNER)] == [
        b"month,sales\njan,10\nfeb,12\n",
        b"buy milk",
    ]
    blob, text = tool_results(bots)
    assert blob == "[file sent to the user: sales.csv, 26 bytes]"
    assert text.startswith("[resource notes://today/notes (text/plain)]\nbuy milk")  # readable
    assert text.endswith("[file sent to the user: notes.txt, 8 bytes]")


async def test_an_image_over_the_photo_limit_goes_as_a_document(bots: BotRunner) -> None:
    await bots.start(mcp=MCP, **NO_STREAM)
    size = 11 * 1024 * 1024
    bots.model.enqueue(Reply.tool("t__chart", pad_to=size), Reply(text="Big one."))
    bots.telegram.push_message(OWNER, "a big chart")
    assert await uploads(bots, 1) == [("sendDocument", "image-1.png")]
    assert len(bots.telegram.uploaded(OWNER)[0][1]) == size
    assert "[image sent to the user: image-1.png, 11.0 MB]" in tool_results(bots)[0]


async def test_a_photo_telegram_refuses_is_sent_as_a_document(bots: BotRunner) -> None:
    await bots.start(mcp=MCP, **NO_STREAM)
    bots.telegram.fail_next("sendPhoto", 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    bots.model.enqueue(Reply.tool("t__chart"), Reply(text="Here."))
    bots.telegram.push_message(OWNER, "chart")
    assert await uploads(bots, 1) == [("sendDocument", "image-1.png")]


async def test_a_file_that_cannot_be_sent_is_named_to_the_user(bots: BotRunner) -> None:
    await bots.start(mcp=MCP, **NO_STREAM)
    bots.telegram.fail_next("sendDocument", 400, "Bad Request: file is broken")
    bots.model.enqueue(Reply.tool("t__export"), Reply(text="Sent."))
    bots.telegram.push_message(OWNER, "export")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert [m["text"] for m in sent] == ["Sent.", "I couldn't send you sales.csv."]
    assert bots.telegram.uploaded(OWNER) == []


class FileTool(Tool):
    """A built-in-style tool that makes files (the registry and outbox are the real ones)."""

    name = "make_files"
    description = "Makes files."

    def __init__(self, *files: OutgoingFile) -> None:
        self.parameters = {"type": "object", "properties": {}}
        self.files = files

    async def execute(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult("made", files=self.files)


async def test_a_built_in_tools_file_in_the_console(tmp_path: Path, model: FakeOpenAI) -> None:
    tool = FileTool(OutgoingFile("plan.pdf", "application/pdf", b"%PDF-1.4 x"))
    model.enqueue(Reply.tool("make_files"), Reply(text="Your plan."))
    out = io.StringIO()
    async with direct(tmp_path, model, tools=[tool]) as bot:
        await run_console(bot.coordinator, io.StringIO("make the plan\n"), out)
        assert "[file for you: plan.pdf (application/pdf, 10 bytes)]" in out.getvalue()
        assert out.getvalue().index("Your plan.") < out.getvalue().index("[file for you")
        (result,) = [m["content"] for m in model.requests[1]["messages"] if m["role"] == "tool"]
        assert result == "made\n[file sent to the user: plan.pdf, 10 bytes]"
        model.enqueue(Reply.tool("make_files"), Reply(text="ok"))
        await bot.ask("again, where no chat can receive files")  # a request without an outbox
        last = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "tool"]
        assert last[-1] == f"made\n{not_deliverable(tool.files[0])}"


def test_the_outbox_takes_what_the_chat_can_receive() -> None:
    outbox = Outbox(max_photo_bytes=100, max_document_bytes=1000, max_files=2)
    photo = OutgoingFile("a.png", "image/png", b"x" * 100)
    big_photo = OutgoingFile("b.jpg", "image/jpeg", b"x" * 101)
    huge = OutgoingFile("c.zip", "application/zip", b"x" * 1001)
    assert outbox.offer(photo) == "[image sent to the user: a.png, 100 bytes]"
    assert outbox.offer(huge) == (
        "[file not sent: c.zip is 1001 bytes, over the 1000 bytes the chat takes; the user "
        "was told]"
    )
    assert outbox.refused == [
        "A tool made a file I can't send you here: c.zip is 1001 bytes, and this chat takes "
        "files up to 1000 bytes."
    ]
    assert outbox.offer(big_photo) == "[image sent to the user: b.jpg, 101 bytes]"
    assert [(d.file.name, d.as_photo) for d in outbox.deliveries] == [
        ("a.png", True),
        ("b.jpg", False),  # over the photo limit: a document
    ]
    assert outbox.offer(photo) == "[image not sent: a.png; this turn already sent 2 files]"
    names = Outbox()
    for name in ("chart.png", "chart.png", "chart.png", "README", "README"):
        names.offer(OutgoingFile(name, "image/png", b"x"))
    files = [d.file.name for d in names.deliveries]
    assert files == ["chart.png", "chart-2.png", "chart-3.png", "README", "README-2"]
    assert not_deliverable(huge) == (
        "[file: c.zip (application/zip, 1001 bytes); not sent: files cannot be delivered here]"
    )
