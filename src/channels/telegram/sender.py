"""Low-level Telegram output: send, edit, draft, typing; formatting fallback and retries.

The AIORateLimiter in front of the bot waits out 429s (RetryAfter) and keeps the global and
per-group limits; this module adds what it does not do: resending a part as plain text when
Telegram rejects its entities, treating "message is not modified" as done, waiting again
when a final message still meets RetryAfter, and detecting servers without drafts.

Retries go through src/retry.py: `SEND_RETRY` (a final message: retry_after honoured, network
failures 1, 2, 4 s apart, 4 tries; never after a timeout, which may have delivered it) and
`FINAL_EDIT_RETRY` (the last edit of a streamed reply: retry_after, else 1 s, 4 tries).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from src.channels.telegram.formatting import Part
from src.clock import SYSTEM_CLOCK, Clock
from src.errors import ChannelError, ChatBlockedError
from src.retry import Backoff, Retry, failure_of

logger = logging.getLogger(__name__)

_FINAL_ATTEMPTS = 4


def retry_after_hint(error: BaseException) -> float | None:
    """The wait Telegram asked for (429 RetryAfter), a little more; None for other errors."""
    if isinstance(error, RetryAfter):
        return as_seconds(error.retry_after) + 0.1
    return None


# BadRequest and TimedOut are NetworkErrors too: a refusal is final, and a timed-out send
# may have arrived, so sending again could show the user a duplicate.
SEND_RETRY = Retry(
    on=failure_of(RetryAfter, NetworkError, unless=(BadRequest, TimedOut)),
    backoff=Backoff(1.0, 4.0),
    attempts=_FINAL_ATTEMPTS,
    hint=retry_after_hint,
)
FINAL_EDIT_RETRY = Retry(
    on=failure_of(RetryAfter, NetworkError, unless=(BadRequest,)),
    backoff=Backoff(1.0, 1.0),
    attempts=_FINAL_ATTEMPTS,
    hint=retry_after_hint,
)


@dataclass(frozen=True)
class Target:
    chat_id: int
    thread_id: int | None = None
    reply_to: int | None = None  # message id to reply to (groups)
    private: bool = True


class Sender:
    def __init__(self, bot: Bot, clock: Clock = SYSTEM_CLOCK) -> None:
        self.bot = bot
        self.clock = clock
        self.drafts_supported = True

    async def send(
        self,
        target: Target,
        part: Part,
        first: bool = False,
        markup: InlineKeyboardMarkup | None = None,
    ) -> int:
        """Send one message, exactly once; returns its message id. Raises ChannelError
        (ChatBlockedError when the bot may not write there)."""
        reply = None
        if first and target.reply_to is not None:
            reply = ReplyParameters(message_id=target.reply_to, allow_sending_without_reply=True)
        shown = [part]  # becomes plain text for good once Telegram rejects the entities

        async def attempt() -> int:
            try:
                return await self._send_once(target, shown[0], reply, markup)
            except BadRequest as exc:
                if not (shown[0].entities and _entity_error(exc)):
                    raise
                logger.warning(
                    "chat %s: entities rejected (%s); plain text", target.chat_id, exc.message
                )
                shown[0] = shown[0].plain()
                return await self._send_once(target, shown[0], reply, markup)

        try:
            message_id = await SEND_RETRY.call(attempt, clock=self.clock)
        except Forbidden as exc:
            raise ChatBlockedError(f"Telegram refused sendMessage: {exc.message}") from exc
        except BadRequest as exc:
            raise ChannelError(f"Telegram refused sendMessage: {exc.message}") from exc
        except TimedOut as exc:
            raise ChannelError(f"sendMessage timed out in chat {target.chat_id}") from exc
        except RetryAfter as exc:
            raise ChannelError(f"sendMessage kept failing in chat {target.chat_id}") from exc
        except NetworkError as exc:
            raise ChannelError(f"cannot reach Telegram: {exc.message}") from exc
        return message_id

    async def _send_once(
        self,
        target: Target,
        part: Part,
        reply: ReplyParameters | None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> int:
        message = await self.bot.send_message(
            target.chat_id,
            part.text,
            entities=part.entities or None,
            message_thread_id=target.thread_id,
            reply_parameters=reply,
            reply_markup=markup,
        )
        return message.message_id

    async def edit(self, target: Target, message_id: int, part: Part, final: bool) -> bool:
        """Edit a message to show `part`. An intermediate edit that fails is skipped (False);
        a final edit retries (FINAL_EDIT_RETRY)."""
        shown = [part]

        async def attempt() -> bool:
            try:
                return await self._edit_once(target, message_id, shown[0])
            except BadRequest as exc:
                if not (shown[0].entities and _entity_error(exc)):
                    raise
                shown[0] = shown[0].plain()
                return await self._edit_once(target, message_id, shown[0])

        async def note(error: BaseException, _attempts: int, _wait: float) -> None:
            if not isinstance(error, RetryAfter):
                logger.warning("chat %s: edit failed: %s", target.chat_id, error)

        try:
            if final:
                return await FINAL_EDIT_RETRY.call(attempt, clock=self.clock, on_retry=note)
            return await attempt()
        except BadRequest as exc:
            logger.warning("chat %s: edit refused: %s", target.chat_id, exc.message)
        except RetryAfter:
            pass  # an intermediate edit is skipped; a final one waited all its tries
        except NetworkError as exc:  # InvalidToken (404) etc. are not NetworkErrors
            logger.warning("chat %s: edit failed: %s", target.chat_id, exc)
        except TelegramError as exc:  # refused for good: the caller sends anew
            logger.warning("chat %s: edit refused: %s", target.chat_id, exc)
        return False

    async def _edit_once(self, target: Target, message_id: int, part: Part) -> bool:
        try:
            await self.bot.edit_message_text(
                part.text, target.chat_id, message_id, entities=part.entities or None
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            raise
        return True

    async def delete(self, target: Target, message_id: int) -> None:
        try:
            await self.bot.delete_message(target.chat_id, message_id)
        except TelegramError as exc:
            logger.warning("chat %s: delete failed: %s", target.chat_id, exc)

    async def draft(self, target: Target, draft_id: int, part: Part) -> bool:
        """Show a draft; False if drafts cannot be used (then the caller edits instead)."""
        if not self.drafts_supported:
            return False
        try:
            await self.bot.send_message_draft(
                target.chat_id,
                draft_id,
                part.text,
                message_thread_id=target.thread_id,
                entities=part.entities or None,
            )
            return True
        except (InvalidToken, EndPointNotFound) as exc:
            await self._check_drafts_unsupported(exc)
            return False
        except BadRequest as exc:
            if part.entities and _entity_error(exc):
                return await self.draft(target, draft_id, part.plain())
            logger.warning("chat %s: draft refused: %s", target.chat_id, exc.message)
            return True  # a refused intermediate draft is skipped, the stream goes on
        except TelegramError as exc:
            logger.info("chat %s: draft failed: %s", target.chat_id, exc)
            return True

    async def _check_drafts_unsupported(self, error: TelegramError) -> None:
        """Telegram answers an unknown method like a bad token (404 -> InvalidToken): ask
        getMe. If the token works, this server has no drafts: stop using them."""
        try:
            await self.bot.get_me()
        except InvalidToken as exc:
            raise ChannelError("Telegram rejected the bot token") from exc
        except TelegramError:
            return  # cannot tell now; try again next time
        logger.warning("this Bot API server has no sendMessageDraft (%s); using edits", error)
        self.drafts_supported = False

    async def typing(self, target: Target) -> None:
        try:
            await self.bot.send_chat_action(
                target.chat_id, ChatAction.TYPING, message_thread_id=target.thread_id
            )
        except TelegramError as exc:
            logger.debug("chat %s: typing indicator failed: %s", target.chat_id, exc)


def _entity_error(exc: BadRequest) -> bool:
    message = exc.message.lower()
    return "entit" in message or "parse" in message


def as_seconds(value: object) -> float:
    """python-telegram-bot durations are timedeltas (PTB_TIMEDELTA) or plain numbers."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
