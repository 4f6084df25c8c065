"""Voice notes on Telegram: download, hand to the VoiceService, echo, speak the answer."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from src.channels.telegram.files import download
from src.channels.telegram.formatting import Part, render
from src.channels.telegram.sender import Sender, Target
from src.config import Config, VoiceConfig
from src.errors import ChannelError, LLMError, VoiceError
from src.store.inbox import InboxItem
from src.voice.service import AudioInput, VoiceService

logger = logging.getLogger(__name__)

_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/webm": "webm",
    "audio/flac": "flac",
    "video/mp4": "mp4",
}


def media_extra(
    kind: str, file_id: str, duration: int | None, size: int | None, mime: str | None
) -> dict[str, object]:
    """What the inbox keeps about a recording until it is transcribed (no audio bytes)."""
    return {
        "media": kind,
        "file_id": file_id,
        "duration": duration,
        "file_size": size,
        "mime_type": mime or ("video/mp4" if kind == "video_note" else "audio/ogg"),
    }


class TelegramVoice:
    def __init__(self, bot: Bot, sender: Sender, service: VoiceService, config: VoiceConfig):
        self.bot = bot
        self.sender = sender
        self.service = service
        self.config = config

    @classmethod
    def create(cls, config: Config, bot: Bot, sender: Sender) -> TelegramVoice | None:
        """The voice handling the config asks for (None when voice is off)."""
        if not config.voice.enabled:
            return None
        return cls(bot, sender, VoiceService(config), config.voice)

    def wants_voice_reply(self, from_voice: bool) -> bool:
        mode = self.config.reply_with_voice
        return mode == "always" or (mode == "auto" and from_voice)

    async def transcript(self, target: Target, item: InboxItem) -> str | None:
        """The recording's text, or None after telling the user why there is none."""
        extra = item.extra
        try:
            self.service.check_limits(_int(extra.get("duration")), _int(extra.get("file_size")))
            data = await self._download(str(extra["file_id"]))
            mime = str(extra.get("mime_type") or "audio/ogg")
            name = f"{extra.get('media', 'voice')}.{_EXTENSIONS.get(mime, 'ogg')}"
            text = await self.service.transcribe(AudioInput(data, name, mime))
        except VoiceError as exc:
            await self._say(target, str(exc))
            return None
        if self.config.echo_transcript:
            await self._say(target, f"🎤 {text}")
        return text

    async def reply(self, target: Target, answer: str) -> int:
        """Send the answer as speech too (it was already sent as text). Returns how many
        characters were spoken (0 when speech failed), for the spend ledger."""
        spoken = " ".join(part.text for part in render(answer)) or answer
        spoken = spoken[: self.config.max_tts_chars]
        try:
            audio = await self.service.speak(spoken)
            await self.bot.send_voice(
                target.chat_id,
                voice=audio,
                message_thread_id=target.thread_id,
                filename="answer.ogg",
            )
        except LLMError as exc:
            logger.warning("chat %s: voice reply failed: %s", target.chat_id, exc)
            return 0
        except TelegramError as exc:  # the speech was made (and paid for)
            logger.warning("chat %s: voice reply failed: %s", target.chat_id, exc)
        return len(spoken)

    async def _download(self, file_id: str) -> bytes:
        ask = "Could you send a shorter recording?"
        return await download(self.bot, file_id, VoiceError, "recording", ask)

    async def _say(self, target: Target, text: str) -> None:
        try:
            await self.sender.send(target, Part(text), first=True)
        except ChannelError as exc:
            logger.error("chat %s: message not delivered: %s", target.chat_id, exc)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None
