"""A getUpdates batch into the application: different chats at once, one chat in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from telegram import Update
from telegram.ext import Application

from src.ops import metrics

BatchHandler = Callable[[Sequence[Update]], Awaitable[None]]


def batch_processor(application: Application) -> BatchHandler:
    """The poller's callback: hands each update of a batch to `application.process_update`."""

    async def process(updates: Sequence[Update]) -> None:
        metrics.record_update(len(updates))
        by_chat: dict[object, list[Update]] = defaultdict(list)
        for update in updates:
            chat = update.effective_chat
            by_chat[chat.id if chat else ("update", update.update_id)].append(update)

        async def run(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await application.process_update(update)

        if len(by_chat) == 1:  # the usual batch: no task to make
            await run(next(iter(by_chat.values())))
        else:
            await asyncio.gather(*(run(chat_updates) for chat_updates in by_chat.values()))

    return process
