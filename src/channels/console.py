"""The console channel: stdin lines in, replies out, conversation id "console".

A failed turn is told apart exactly as on Telegram (src/channels/failures.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from src.agents.coordinator import Coordinator
from src.agents.types import Request
from src.approval.types import APPROVED, DENIED, ApprovalRequest, Decision
from src.channels import failures
from src.channels.telegram import texts
from src.conversation.visible import is_blank
from src.errors import UserInputError
from src.tools.outbox import Outbox, size_text

logger = logging.getLogger(__name__)

CONVERSATION_ID = "console"
PROMPT = "> "


class _PrintSink:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.streamed = False

    async def on_delta(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        self.streamed = True

    async def on_tool_call(self, name: str) -> None:
        if self.streamed:
            self.out.write("\n")
        self.out.write(f"[tool: {name}]\n")
        self.out.flush()
        self.streamed = False


class ConsoleApprover:
    """Tools that ask first ask at the terminal: "y" approves, anything else (or the end of
    the input) declines. The operator is at the terminal: no timeout."""

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self.stdin = stdin
        self.out = out

    async def ask(self, request: ApprovalRequest) -> Decision:
        self.out.write(f"\n[approve] {request.tool}\n{request.arguments}\nRun it? [y/N] ")
        self.out.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        verdict = APPROVED if line.strip().lower() in ("y", "yes") else DENIED
        self.out.write(f"[{verdict}]\n")
        return Decision(verdict)

    async def expired(self, request: ApprovalRequest) -> None:
        return None


async def run_console(
    coordinator: Coordinator, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    """Read lines until EOF; /reset forgets the conversation, /exit quits."""
    interactive = stdin.isatty()
    coordinator.tool_runner.approver = ConsoleApprover(stdin, out)
    while True:
        if interactive:
            out.write(PROMPT)
            out.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        text = line.strip()
        if not text:
            continue  # an empty line: nothing typed
        if is_blank(text):
            out.write(texts.EMPTY_MESSAGE + "\n")
            continue
        if text in ("/exit", "/quit"):
            return
        if text == "/reset":
            await coordinator.reset(CONVERSATION_ID)
            out.write("Conversation forgotten.\n")
            continue
        if text.startswith("/") and text[1:].split(maxsplit=1)[0] in coordinator.commands():
            try:
                out.write(await coordinator.handle_command(CONVERSATION_ID, text, None) + "\n")
            except UserInputError as exc:
                out.write(f"{exc}\n")
            continue
        sink = _PrintSink(out)
        outbox = Outbox()  # the console cannot show files: it names them
        request = Request(CONVERSATION_ID, text, source="console", outbox=outbox)
        try:
            response = await coordinator.process_request(request, sink)
        except Exception as exc:
            failure = failures.describe(exc, CONVERSATION_ID)
            out.write(f"\n{failure.text}\n" if sink.streamed else f"{failure.text}\n")
            out.flush()
            continue
        if not sink.streamed:
            out.write(response.text)
        out.write("\n")
        if response.history_set_aside:
            out.write(texts.HISTORY_SET_ASIDE + "\n")
        for notice in response.notices:
            out.write(notice + "\n")
        _name_files(outbox, out)
        out.flush()


def _name_files(outbox: Outbox, out: TextIO) -> None:
    """What a chat would have received: the console names each file a tool made."""
    for delivery in outbox.deliveries:
        file = delivery.file
        out.write(f"[file for you: {file.name} ({file.mime_type}, {size_text(len(file.data))})]\n")
