"""VoiceService: a downloaded note in, its transcript out; and speech for voice replies.

Channel-independent (no Telegram here). Errors are VoiceError subclasses whose message is
meant for the user.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiofiles

from src.config import Config
from src.conversation.visible import is_blank
from src.errors import (
    AudioRejectedError,
    AudioTooLargeError,
    LLMError,
    UndecodableAudioError,
    VoiceError,
)
from src.llm.audio import AudioClient
from src.voice.convert import to_wav
from src.voice.tempdir import PrivateTempDir

logger = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT_MB = 20


@dataclass(frozen=True)
class AudioInput:
    data: bytes
    filename: str  # e.g. "voice.ogg": its extension tells the endpoint the format
    content_type: str


class VoiceService:
    def __init__(self, config: Config, audio: AudioClient | None = None) -> None:
        self.config = config.voice
        self.audio = audio or AudioClient(config)
        self.temp = PrivateTempDir()
        self._convert = self.config.upload_format == "wav"

    async def aclose(self) -> None:
        await self.audio.aclose()
        await self.temp.cleanup()

    def check_limits(self, duration_s: int | None, size_bytes: int | None) -> None:
        """Decline notes over the limits before downloading them."""
        if duration_s is not None and duration_s > self.config.max_duration_s:
            raise VoiceError(
                f"That recording is {_minutes(duration_s)} long; I can take up to "
                f"{_minutes(self.config.max_duration_s)}. Could you send a shorter one?"
            )
        if size_bytes is None:
            return
        size_mb = size_bytes / 1_000_000
        if size_mb > TELEGRAM_DOWNLOAD_LIMIT_MB:
            raise VoiceError(
                f"That file is {size_mb:.0f} MB, and Telegram lets bots download at most "
                f"{TELEGRAM_DOWNLOAD_LIMIT_MB} MB. Could you send a shorter recording?"
            )
        if size_mb > self.config.max_file_mb:
            raise VoiceError(
                f"That file is {size_mb:.1f} MB; I can take up to "
                f"{self.config.max_file_mb:g} MB. Could you send a shorter recording?"
            )

    async def transcribe(self, audio: AudioInput) -> str:
        """The transcript. Sends the original when allowed; converts to wav when configured
        or when the endpoint refuses the original ("auto")."""
        if not audio.data:
            raise VoiceError("That recording is empty.")
        if not self._convert:
            try:
                return await self._send(audio)
            except AudioRejectedError:
                if self.config.upload_format != "auto":
                    raise VoiceError(_UNREADABLE) from None
                logger.info("transcription refused the original audio; converting to wav")
        wav = await self._to_wav(audio)
        try:
            text = await self._send(wav)
        except AudioRejectedError:
            raise VoiceError(_UNREADABLE) from None
        if self.config.upload_format == "auto":
            self._convert = True  # this endpoint wants wav: skip the refused first try
        return text

    async def speak(self, text: str) -> bytes:
        """OGG/Opus speech for a voice reply. Raises LLMError if the service fails."""
        data = await self.audio.speak(text)
        if not data:
            raise LLMError("the speech service returned no audio")
        return data

    async def _send(self, audio: AudioInput) -> str:
        try:
            text = await self.audio.transcribe(audio.data, audio.filename, audio.content_type)
        except AudioRejectedError:
            raise
        except AudioTooLargeError as exc:
            raise VoiceError(
                "That recording is too large for the transcription service. "
                "Could you send a shorter one?"
            ) from exc
        except LLMError as exc:
            logger.warning("transcription failed: %s", exc)
            raise VoiceError(_SERVICE_DOWN) from exc
        if is_blank(text):  # never a turn without words (src/conversation/visible.py)
            raise VoiceError("I couldn't hear anything in that recording.")
        return text

    async def _to_wav(self, audio: AudioInput) -> AudioInput:
        suffix = "." + (audio.filename.rsplit(".", 1)[-1] if "." in audio.filename else "bin")
        async with self.temp.files(suffix, ".wav") as (source, target):
            async with aiofiles.open(source, "wb") as f:
                await f.write(audio.data)
            try:
                seconds = await asyncio.to_thread(to_wav, source, target)
            except UndecodableAudioError as exc:
                logger.info("audio could not be decoded: %s", exc)
                raise VoiceError(_UNREADABLE) from exc
            async with aiofiles.open(target, "rb") as f:
                data = await f.read()
        logger.debug("converted %.1f s of audio to wav (%d bytes)", seconds, len(data))
        return AudioInput(data, "voice.wav", "audio/wav")


_UNREADABLE = "I couldn't make out that audio: the file seems damaged or in a format I can't read."
_SERVICE_DOWN = (
    "The transcription service isn't answering right now. Please try again in a moment, "
    "or type your message."
)


def _minutes(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{seconds // 60} minutes"
