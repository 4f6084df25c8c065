"""python-telegram-bot's AIORateLimiter, minus the message budget for chat actions.

"typing…" and drafts are not messages: counting them against the 30 messages/s (and
20/min per group) budget would delay real replies when many chats are busy. Drafts keep their
own cadence (telegram.stream_edit_interval per chat, see stream.py); a 429 on either is
skipped, never retried. They still go through the library's request machinery, only without
the limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

_NOT_MESSAGES = frozenset({"sendChatAction", "sendMessageDraft"})


class MessageRateLimiter(AIORateLimiter):
    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint in _NOT_MESSAGES:
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
