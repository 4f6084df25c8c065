"""Presses of inline buttons: thin handlers that let only allowed users through, hand the
press to its owner (`reminders.py` for cancel buttons, `approvals.py` for Approve / Deny) and
answer the callback. `handlers.register` wires them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from telegram import Message, Update
from telegram.ext import ContextTypes

from src.channels.telegram import texts
from src.errors import ConversationError

if TYPE_CHECKING:
    from src.channels.telegram.front import Front

logger = logging.getLogger(__name__)

T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE
PRIVATE = "Sorry, this is a private assistant."


async def reminder_button(front: Front, update: Update, _: Context) -> None:
    """A cancel button under /reminders: only its owner (or an admin) may press it."""
    if front.reminders is None:
        return
    outcome = await _pressed(front, update, "reminder", front.reminders.press)
    query = update.callback_query
    if outcome is None or query is None:
        return
    await query.answer(outcome)
    if outcome.startswith("Cancelled") and isinstance(query.message, Message):
        text = query.message.text or ""
        await query.edit_message_text(f"{text}\n\n{outcome}" if text else outcome)


async def approval_button(front: Front, update: Update, _: Context) -> None:
    """Approve / Deny / Always under an approval question: only the user who asked, or an
    admin, counts."""
    if front.approvals is None:
        return
    press = await _pressed(front, update, "approval", front.approvals.press)
    query = update.callback_query
    if press is None or query is None:
        return
    await query.answer(press.reply)
    if press.outcome is not None and isinstance(query.message, Message):
        await front.approvals.edit(query.message.chat_id, query.message.message_id, press.outcome)


async def _pressed(
    front: Front, update: Update, what: str, press: Callable[[str, int], Awaitable[T]]
) -> T | None:
    """What `press` made of the button's data, or None when the press got its answer here
    (a stranger, or the store failing)."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return None
    if not front.access.is_allowed(user.id):
        await query.answer(PRIVATE)
        return None
    try:
        return await press(query.data or "", user.id)
    except ConversationError:
        logger.exception("%s button of user %s failed", what, user.id)
        await query.answer(texts.STORE_DOWN)
        return None
