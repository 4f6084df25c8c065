"""The Telegram channel: polling, the durable inbox, one lane per conversation, replies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import BotCommand, Update
from telegram.ext import Application

from src.agents.coordinator import Coordinator
from src.agents.types import Request
from src.channels.lanes import ChatLanes
from src.channels.telegram import handlers, texts
from src.channels.telegram.formatting import plain_parts
from src.channels.telegram.poller import Poller
from src.channels.telegram.sender import Sender, Target
from src.channels.telegram.stream import Mode, ReplyStream
from src.channels.telegram.voice import TelegramVoice
from src.config import Config
from src.errors import (
    ChannelError,
    ConversationError,
    LLMError,
    LLMTimeoutError,
    UserInputError,
)
from src.ops import metrics
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

REFUSAL_INTERVAL_S = 600.0
SHUTDOWN_GRACE_S = 7.0


@dataclass(frozen=True)
class Notice:
    """A reply that needs no model and no durability (help text, refusals)."""

    chat_id: int
    thread_id: int | None
    text: str


class TelegramChannel:
    def __init__(
        self,
        config: Config,
        coordinator: Coordinator,
        application: Application,
    ) -> None:
        self.config = config
        self.coordinator = coordinator
        self.application = application
        self.inbox = coordinator.storage.inbox
        self.sender = Sender(application.bot)
        self.lanes: ChatLanes[InboxItem | Notice] = ChatLanes(
            self._handle, config.telegram.max_concurrent_turns
        )
        self.poller = Poller(application.bot, self._process_batch, config.telegram.poll_timeout_s)
        self._allowed = set(config.telegram.allowed_user_ids) | set(config.telegram.admin_user_ids)
        self._refused_at: dict[int, float] = {}
        self.group_mode = config.telegram.group_mode
        self.voice = TelegramVoice.create(config, application.bot, self.sender)
        handlers.register(application, self)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Announce the commands and queue every turn a previous run left unanswered."""
        menu = {**handlers.COMMANDS, **self.coordinator.commands()}
        commands = [BotCommand(name, text) for name, text in menu.items()]
        try:
            await self.application.bot.set_my_commands(commands)
        except Exception as exc:
            logger.warning("setMyCommands failed: %s", exc)
        await self.recover()

    async def recover(self) -> int:
        count = 0
        for conversation_id, items in await self.inbox.pending():
            for item in items:
                self.lanes.submit(conversation_id, item)
                count += 1
        if count:
            logger.info("recovered %d unanswered message(s) from the last run", count)
        return count

    async def stop(self) -> None:
        """Stop polling, let running turns finish (or abandon them cleanly), confirm offset."""
        self.poller.stop()
        cancelled = await self.lanes.close(SHUTDOWN_GRACE_S)
        if cancelled:
            logger.warning("%d turn(s) cut off by shutdown; they resume on restart", cancelled)
        await self.poller.confirm()
        if self.voice is not None:
            await self.voice.service.aclose()

    # -- intake (called by the handlers, inside the poll loop) --------------------------

    def is_allowed(self, user_id: int) -> bool:
        return user_id in self._allowed

    def refuse(self, conversation_id: str, chat_id: int, thread: int | None, user_id: int) -> None:
        metrics.record_refusal()
        now = time.monotonic()
        last = self._refused_at.get(user_id)
        logger.info("refused user %s in conversation %s", user_id, conversation_id)
        if last is not None and now - last < REFUSAL_INTERVAL_S:
            return
        self._refused_at[user_id] = now
        self.notify(conversation_id, chat_id, thread, texts.refused(user_id))

    def notify(self, conversation_id: str, chat_id: int, thread: int | None, text: str) -> None:
        self.lanes.submit(conversation_id, Notice(chat_id, thread, text))

    async def accept(self, conversation_id: str, item: InboxItem) -> None:
        """Store the item (retrying while the store is down), then queue it in its lane."""
        delay = 0.5
        while True:
            try:
                accepted = await self.inbox.accept(conversation_id, item)
                break
            except ConversationError as exc:
                logger.error(
                    "conversation %s: cannot store update %s (%s); retrying in %.1f s",
                    conversation_id,
                    item.update_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
        if accepted:
            self.lanes.submit(conversation_id, item)

    async def _process_batch(self, updates: Sequence[Update]) -> None:
        """Hand a getUpdates batch to the handlers: chats in parallel, each chat in order."""
        metrics.record_update(len(updates))
        by_chat: dict[object, list[Update]] = defaultdict(list)
        for update in updates:
            chat = update.effective_chat
            by_chat[chat.id if chat else ("update", update.update_id)].append(update)

        async def run(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self.application.process_update(update)

        if len(by_chat) == 1:  # the usual batch: no task to make
            await run(next(iter(by_chat.values())))
        else:
            await asyncio.gather(*(run(chat_updates) for chat_updates in by_chat.values()))

    # -- the lane worker -----------------------------------------------------------------

    async def _handle(self, conversation_id: str, item: InboxItem | Notice) -> None:
        if isinstance(item, Notice):
            await self._say(conversation_id, Target(item.chat_id, item.thread_id), item.text)
            return
        if item.kind == "reset":
            text = await self._reset(conversation_id, item)
            await self._say(conversation_id, self._target(item), text)
        elif item.kind == "voice":
            await self._turn(conversation_id, item, from_voice=True)
        elif item.kind == "command":
            text = await self._command(conversation_id, item)
            await self._say(conversation_id, self._target(item), text)
        else:
            await self._turn(conversation_id, item)
        await self.inbox.done(conversation_id, item.update_id)

    def _target(self, item: InboxItem) -> Target:
        assert item.chat_id is not None
        private = item.extra.get("chat_type", "private") == "private"
        return Target(
            chat_id=item.chat_id,
            thread_id=item.thread_id,
            reply_to=None if private else item.message_id,
            private=private,
        )

    def _stream(self, target: Target, draft_id: int) -> ReplyStream:
        settings = self.config.telegram
        mode: Mode = "off"
        if settings.streaming:
            drafts = settings.use_drafts and target.private and self.sender.drafts_supported
            mode = "draft" if drafts else "edit"
        interval = settings.stream_edit_interval if target.private else settings.group_edit_interval
        return ReplyStream(
            self.sender,
            target,
            mode=mode,
            interval_s=interval,
            typing_interval_s=settings.typing_interval_s,
            draft_id=draft_id,
        )

    async def _command(self, conversation_id: str, item: InboxItem) -> str:
        try:
            return await self.coordinator.handle_command(conversation_id, item.text, item.user_id)
        except UserInputError as exc:
            return str(exc)
        except ConversationError:
            logger.exception("conversation %s: command failed", conversation_id)
            return texts.STORE_DOWN
        except Exception:
            logger.exception("conversation %s: command failed", conversation_id)
            return texts.FAILED

    async def _reset(self, conversation_id: str, item: InboxItem) -> str:
        try:
            await self.coordinator.reset(conversation_id)  # the inbox keeps its own record
        except ConversationError:
            logger.exception("conversation %s: reset failed", conversation_id)
            return texts.STORE_DOWN
        logger.info("conversation %s: reset by the user", conversation_id)
        return texts.RESET_DONE

    async def _turn(self, conversation_id: str, item: InboxItem, from_voice: bool = False) -> None:
        target = self._target(item)
        async with self._stream(target, draft_id=item.update_id) as stream:
            text = item.text
            metadata: dict[str, object] = {}
            if from_voice:
                assert self.voice is not None
                transcript = await self.voice.transcript(target, item)  # "typing…" meanwhile
                if transcript is None:
                    return  # the user was told why
                text = f"{transcript}\n\n{text}" if text else transcript  # with any caption
                metadata["voice"] = {k: item.extra.get(k) for k in ("media", "duration")}
            request = Request(
                conversation_id=conversation_id,
                text=text,
                user_id=item.user_id,
                update_id=item.update_id,
                source="voice" if from_voice else "text",
                metadata=metadata,
            )
            answer, answered = await self._answer(conversation_id, request, stream)
            try:
                await stream.finish(answer)
            except ChannelError as exc:
                logger.error("conversation %s: reply not delivered: %s", conversation_id, exc)
        if answered and self.voice is not None and self.voice.wants_voice_reply(from_voice):
            await self.voice.reply(target, answer)

    async def _answer(
        self, conversation_id: str, request: Request, stream: ReplyStream
    ) -> tuple[str, bool]:
        """The answer to show, and whether it is the model's (not an apology)."""
        started = time.monotonic()
        outcome, answer = metrics.TURN_FAILED, texts.FAILED
        try:
            response = await self.coordinator.process_request(request, stream)
            outcome, answer = metrics.TURN_OK, response.text
        except LLMTimeoutError:
            logger.warning("conversation %s: model timed out", conversation_id)
            outcome, answer = metrics.TURN_MODEL_TIMEOUT, texts.MODEL_TIMEOUT
        except LLMError as exc:
            logger.warning("conversation %s: model failed: %s", conversation_id, exc)
            outcome, answer = metrics.TURN_MODEL_ERROR, texts.MODEL_DOWN
        except ConversationError:
            logger.exception("conversation %s: store failed during the turn", conversation_id)
            outcome, answer = metrics.TURN_STORE_ERROR, texts.STORE_DOWN
        except Exception:
            logger.exception("conversation %s: turn failed", conversation_id)
        metrics.record_turn(outcome, time.monotonic() - started)
        return answer, outcome == metrics.TURN_OK

    async def _say(self, conversation_id: str, target: Target, text: str) -> None:
        """A plain-text notice from the bot itself (help, refusals, command answers)."""
        try:
            for index, part in enumerate(plain_parts(text)):
                await self.sender.send(target, part, first=index == 0)
        except ChannelError as exc:
            logger.error("conversation %s: reply not delivered: %s", conversation_id, exc)
