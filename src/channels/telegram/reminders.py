"""Scheduled entries on Telegram: a due entry delivered in its conversation's lane (a text
reminder, or a task run as a full turn), `/reminders` with a cancel button per entry, the
buttons' presses, and `/timezone`."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from src.access import Access
from src.channels.telegram.formatting import Part
from src.channels.telegram.intake import Scheduled
from src.channels.telegram.replies import target_for
from src.channels.telegram.sender import Sender, Target
from src.channels.telegram.turns import TurnRunner
from src.errors import ChatBlockedError, ToolArgumentError
from src.scheduler.entries import Entry
from src.scheduler.runner import BLOCKED, NOT_ALLOWED, SENT, Scheduler
from src.scheduler.timing import local, zone
from src.scheduler.tools import describe
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

CANCEL = "sched:cancel:"  # callback data of a cancel button: the prefix and the entry id
MAX_BUTTONS = 50


class Reminders:
    def __init__(
        self, scheduler: Scheduler, access: Access, sender: Sender, turns: TurnRunner
    ) -> None:
        self.scheduler = scheduler
        self.entries = scheduler.entries
        self.zones = scheduler.zones
        self.access = access
        self.sender = sender
        self.turns = turns

    async def deliver(self, conversation_id: str, item: Scheduled) -> str:
        """Send (or run) a due entry; what became of it (src/scheduler/runner.py)."""
        entry = item.entry
        if not self.access.is_allowed(entry.user_id):
            return NOT_ALLOWED
        target = _target(entry)
        was_due = entry.was_due if entry.was_due is not None else entry.created_at
        late = f"\n(late: this was due {local(was_due, zone(entry.zone))})"
        header = f"⏰ {entry.text}" if not entry.task else f"⏰ Scheduled task: {entry.text}"
        try:
            await self.sender.send(target, Part(header + (late if item.late else "")), first=True)
        except ChatBlockedError:
            return BLOCKED
        if entry.task:
            await self.turns.run(conversation_id, _task_item(entry, target), scheduled=entry.id)
        return SENT

    async def listing(self, conversation_id: str, item: InboxItem) -> None:
        """`/reminders`: this user's entries in this chat, each with a cancel button."""
        assert item.user_id is not None
        entries = [
            e
            for e in await self.entries.of_user(item.user_id)
            if e.conversation_id == conversation_id
        ]
        entries.sort(key=lambda e: e.due_at if e.due_at is not None else float("inf"))
        if not entries:
            text = 'Nothing is scheduled in this chat. Ask me, e.g. "remind me at 9 to call".'
            await self.sender.send(target_for(item), Part(text), first=True)
            return
        lines = ["Scheduled here (/reset does not cancel these):"]
        lines += [f"• {describe(entry)}" for entry in entries]
        buttons = [
            [InlineKeyboardButton(f"Cancel {entry.id}", callback_data=f"{CANCEL}{entry.id}")]
            for entry in entries[:MAX_BUTTONS]
        ]
        markup = InlineKeyboardMarkup(buttons)
        await self.sender.send(target_for(item), Part("\n".join(lines)), True, markup)

    async def press(self, data: str, user_id: int) -> str:
        """A cancel button pressed by `user_id`: only the entry's own user or an admin may."""
        entry_id = data.removeprefix(CANCEL)
        entry = await self.entries.get(entry_id)
        if entry is None:
            return "That one is already gone."
        if entry.user_id != user_id and not self.access.is_admin(user_id):
            return "Only the person who scheduled it can cancel it."
        await self.entries.cancel(entry.id, None)
        self.scheduler.wake()
        return f"Cancelled {entry.id}."

    async def timezone(self, item: InboxItem) -> str:
        """`/timezone [IANA name]`: show or set the user's time zone."""
        assert item.user_id is not None
        name = item.text.strip()
        if not name:
            current = await self.zones.get(item.user_id)
            return f"Your time zone is {current}. Send /timezone Europe/Berlin (an IANA name)."
        try:
            await self.zones.set(item.user_id, name)
        except ToolArgumentError:
            return f"I don't know the time zone {name[:60]!r}. Use an IANA name like Europe/Berlin."
        return f"Your time zone is now {name}. New reminders use it."


def _target(entry: Entry) -> Target:
    chat, _, thread = entry.conversation_id.partition(":")
    private = entry.meta.get("chat_type", "private") == "private"
    return Target(int(chat), int(thread) if thread else None, private=private)


def _task_item(entry: Entry, target: Target) -> InboxItem:
    """A task's prompt as the turn's input (no update: nothing to confirm or replay)."""
    return InboxItem(
        update_id=int(entry.id, 16) % 2**31 + 1,  # only the streamed draft's id
        kind="text",
        text=entry.text,
        user_id=entry.user_id,
        chat_id=target.chat_id,
        thread_id=target.thread_id,
        extra={"chat_type": entry.meta.get("chat_type", "private")},
    )
