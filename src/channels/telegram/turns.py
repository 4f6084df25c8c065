"""One conversation turn on Telegram: the request, the streamed answer, and, when the turn
fails, the text that tells the user which failure it was (src/channels/failures.py)."""

from __future__ import annotations

import logging
import time

from src.agents.coordinator import Coordinator
from src.agents.types import Request
from src.channels import failures
from src.channels.telegram import texts
from src.channels.telegram.attachments import Attachments
from src.channels.telegram.outgoing import FileSender, telegram_outbox
from src.channels.telegram.replies import say, target_for
from src.channels.telegram.sender import Sender, Target
from src.channels.telegram.stream import Mode, ReplyStream
from src.channels.telegram.voice import TelegramVoice
from src.config import Config
from src.conversation.visible import is_blank
from src.errors import ChannelError
from src.ops import metrics
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)


class TurnRunner:
    def __init__(
        self,
        config: Config,
        coordinator: Coordinator,
        sender: Sender,
        voice: TelegramVoice | None,
        attachments: Attachments | None = None,
    ) -> None:
        self.config = config
        self.coordinator = coordinator
        self.sender = sender
        self.voice = voice
        self.attachments = attachments or Attachments(sender)
        self.files = FileSender(sender.bot, sender)

    async def run(
        self,
        conversation_id: str,
        item: InboxItem,
        from_voice: bool = False,
        scheduled: str | None = None,
    ) -> None:
        """One turn for `item`; `scheduled` (an entry id): a scheduled task's turn, which
        answers no update (src/channels/telegram/reminders.py)."""
        target = target_for(item)
        set_aside, notices = False, []
        limits = self.coordinator.limits
        outbox = telegram_outbox()  # the files the turn's tools make, sent after the answer
        async with self._stream(target, draft_id=item.update_id) as stream:
            text = item.text
            metadata: dict[str, object] = {"chat_type": item.extra.get("chat_type", "private")}
            if from_voice:
                assert self.voice is not None
                refusal = await limits.check(item.user_id)  # transcribing costs too
                if refusal is not None:
                    await say(self.sender, conversation_id, target, refusal.text)
                    return
                transcript = await self.voice.transcript(target, item)  # "typing…" meanwhile
                if transcript is None:
                    return  # the user was told why
                seconds = item.extra.get("duration")
                notices += await limits.charge_audio(
                    item.user_id,
                    self.config.voice.model,
                    float(seconds) if isinstance(seconds, int | float) else 0.0,
                )
                text = transcript if is_blank(text) else f"{transcript}\n\n{text}"  # + caption
                metadata["voice"] = {k: item.extra.get(k) for k in ("media", "duration")}
            if item.kind in Attachments.KINDS:
                refusal = await limits.check(item.user_id)  # before the download
                if refusal is not None:
                    await say(self.sender, conversation_id, target, refusal.text)
                    return
                prepared = await self.attachments.prepare(conversation_id, target, item)
                if prepared is None:
                    return  # the user was told why
                text, more = prepared
                metadata.update(more)
            if scheduled is not None:
                metadata["scheduled"] = scheduled
                text = f"(A task I scheduled earlier, due now.) {text}"
            request = Request(
                conversation_id=conversation_id,
                text=text,
                user_id=item.user_id,
                update_id=None if scheduled else item.update_id,
                source="scheduled" if scheduled else "voice" if from_voice else item.kind,
                metadata=metadata,
                outbox=outbox,
            )
            answer, answered, set_aside, said = await self._answer(conversation_id, request, stream)
            notices += said
            try:
                await stream.finish(answer)
            except ChannelError as exc:
                logger.error("conversation %s: reply not delivered: %s", conversation_id, exc)
        await self.files.deliver(conversation_id, target, outbox)
        if set_aside:  # said once: later requests start after the point this turn marked
            await say(self.sender, conversation_id, target, texts.HISTORY_SET_ASIDE)
        if answered and self.voice is not None and self.voice.wants_voice_reply(from_voice):
            spoken = await self.voice.reply(target, answer)
            if spoken:
                model = self.config.voice.tts_model
                notices += await limits.charge_speech(item.user_id, model, spoken)
        for notice in notices:  # a limit's warning, once per period
            await say(self.sender, conversation_id, target, notice)

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

    async def _answer(
        self, conversation_id: str, request: Request, stream: ReplyStream
    ) -> tuple[str, bool, bool, tuple[str, ...]]:
        """The answer to show, whether it is the model's (not an apology), whether the turn
        had to set the earlier history aside (see Agent.run), and notices to say after it."""
        started = time.monotonic()
        try:
            response = await self.coordinator.process_request(request, stream)
        except Exception as exc:
            failure = failures.describe(exc, conversation_id)
            metrics.record_turn(failure.outcome, time.monotonic() - started)
            return failure.text, False, False, ()
        metrics.record_turn(metrics.TURN_OK, time.monotonic() - started)
        return response.text, True, response.history_set_aside, response.notices
