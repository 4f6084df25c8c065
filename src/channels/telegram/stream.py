"""ReplyStream: shows one turn's answer while the model writes it, then the final text once.

Modes: "draft" (private chats: sendMessageDraft, then one sendMessage per part), "edit" (groups
and servers without drafts: the first chunk is sent, then edited at most once per interval),
"off" (streaming disabled: one final send). Text longer than one message streams into the next
message. At the end the shown messages are reconciled with the final, fully rendered text:
each part is sent exactly once, and no edit repeats what is already shown. Its timers and
cadence run on an injectable clock (src/clock.py), so tests drive them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

from src.channels.telegram.formatting import Part, render
from src.channels.telegram.sender import Sender, Target
from src.clock import SYSTEM_CLOCK, Clock, Timer

logger = logging.getLogger(__name__)

Mode = Literal["draft", "edit", "off"]

# Humans do not notice these delays; they spare quick answers a draft and a chat action
# (each a Bot API call) that the final message would replace at once.
FIRST_SHOW_DELAY_S = 0.05
FIRST_TYPING_DELAY_S = 0.3


@dataclass
class _Shown:
    message_id: int
    part: Part


class ReplyStream:
    def __init__(
        self,
        sender: Sender,
        target: Target,
        *,
        mode: Mode,
        interval_s: float,
        typing_interval_s: float = 4.0,
        draft_id: int = 1,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.sender = sender
        self.clock = clock
        self.target = target
        self.mode: Mode = mode
        self.interval_s = interval_s
        self.typing_interval_s = typing_interval_s
        self.draft_id = draft_id
        self._buffer = ""
        self._new_round = False
        self._shown_source = ""
        self._messages: list[_Shown] = []
        self._draft: Part | None = None
        self._last_flush = float("-inf")
        # Timers start the flush and "typing…" tasks only when they are due: an answer that
        # arrives whole costs no task at all.
        self._flush_timer: Timer | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._flushing = False
        self._closed = False
        self._lock = asyncio.Lock()
        self._typing_wanted = asyncio.Event()
        self._typing_timer: Timer | None = None
        self._typing_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ReplyStream:
        self._typing_wanted.set()
        # A quick answer needs no "typing…".
        self._typing_timer = self.clock.call_later(FIRST_TYPING_DELAY_S, self._start_typing)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._closed = True
        for timer in (self._flush_timer, self._typing_timer):
            if timer is not None:
                timer.cancel()
        for task in (self._flush_task, self._typing_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- ReplySink ---------------------------------------------------------------------

    async def on_delta(self, text: str) -> None:
        if self.mode == "off" or self._closed:
            return
        if self._new_round:
            self._buffer, self._new_round = "", False
        self._buffer += text
        self._schedule()

    async def on_tool_call(self, name: str) -> None:
        # Text written before a tool call is a preamble: it stays shown while the tools run,
        # and the next round's answer replaces it.
        self._new_round = True
        self._typing_wanted.set()

    # -- the end -----------------------------------------------------------------------

    async def finish(self, text: str) -> int:
        """Show the final text, each part exactly once. Returns the number of messages."""
        self._closed = True
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        task = self._flush_task
        if task is not None and not task.done():
            if self._flushing:
                await asyncio.gather(task, return_exceptions=True)
            else:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._typing_wanted.clear()
        async with self._lock:
            parts = render(text)
            for index, part in enumerate(parts):
                if index < len(self._messages):
                    shown = self._messages[index]
                    if shown.part != part and not await self.sender.edit(
                        self.target, shown.message_id, part, final=True
                    ):
                        # The edit cannot be made (edits unsupported, message gone): the
                        # final text goes out as a new message instead of a stale partial.
                        await self.sender.delete(self.target, shown.message_id)
                        shown.message_id = await self.sender.send(self.target, part, index == 0)
                    shown.part = part
                else:
                    message_id = await self.sender.send(self.target, part, first=index == 0)
                    self._messages.append(_Shown(message_id, part))
            for extra in self._messages[len(parts) :]:
                await self.sender.delete(self.target, extra.message_id)
            del self._messages[len(parts) :]
            return len(parts)

    # -- streaming ---------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._flush_timer is not None or (
            self._flush_task is not None and not self._flush_task.done()
        ):
            return
        if self._last_flush == float("-inf"):
            delay = FIRST_SHOW_DELAY_S  # an answer that arrives whole needs no draft
        else:
            delay = max(0.0, self._last_flush + self.interval_s - self.clock.monotonic())
        self._flush_timer = self.clock.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_timer = None
        if not self._closed:
            self._flush_task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        async with self._lock:
            if self._closed:
                return
            self._flushing = True
            self._last_flush = self.clock.monotonic()
            source = self._buffer
            try:
                await self._show(source)
            except Exception:
                logger.warning("chat %s: stream update failed", self.target.chat_id, exc_info=True)
            finally:
                self._flushing = False
            self._shown_source = source
        if not self._closed and self._buffer != self._shown_source:
            self._flush_task = None
            self._schedule()

    async def _show(self, markdown: str) -> None:
        parts = render(markdown)
        if not parts:
            return
        if self.mode == "draft":
            # Parts before the last are complete: they become real messages now.
            for index in range(len(self._messages), len(parts) - 1):
                message_id = await self.sender.send(self.target, parts[index], first=index == 0)
                self._messages.append(_Shown(message_id, parts[index]))
            if parts[-1] == self._draft:
                return
            if await self.sender.draft(self.target, self.draft_id, parts[-1]):
                self._draft = parts[-1]
                self._text_shown()
                return
            logger.info("chat %s: streaming with edits instead of drafts", self.target.chat_id)
            self.mode = "edit"
        for index, part in enumerate(parts):
            if index < len(self._messages):
                shown = self._messages[index]
                if shown.part != part and await self.sender.edit(
                    self.target, shown.message_id, part, final=False
                ):
                    shown.part = part
            else:
                message_id = await self.sender.send(self.target, part, first=index == 0)
                self._messages.append(_Shown(message_id, part))
        self._text_shown()

    def _text_shown(self) -> None:
        """Text is visible: "typing…" stops, unless tools are still running."""
        if not self._new_round:
            self._typing_wanted.clear()

    def _start_typing(self) -> None:
        self._typing_timer = None
        if not self._closed or self._typing_wanted.is_set():
            self._typing_task = asyncio.create_task(self._keep_typing())

    async def _keep_typing(self) -> None:
        while True:
            await self._typing_wanted.wait()
            await self.sender.typing(self.target)
            await self.clock.sleep(self.typing_interval_s)
