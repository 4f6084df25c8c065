"""OpenAI-compatible audio endpoints: transcription (audio/transcriptions) and speech."""

from __future__ import annotations

import logging

import openai

from src.config import Config
from src.errors import AudioRejectedError, AudioTooLargeError, LLMError
from src.llm.client import translate_error

logger = logging.getLogger(__name__)


class AudioClient:
    """Its HTTP client is made on first use: most turns have no audio, and making one (with
    its TLS context) costs a start-up some 30 ms."""

    def __init__(self, config: Config) -> None:
        self.config = config.voice
        self._llm = config.llm
        self._made: openai.AsyncOpenAI | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        if self._made is None:
            voice = self.config
            key = voice.api_key or self._llm.api_key
            self._made = openai.AsyncOpenAI(
                base_url=voice.base_url or self._llm.base_url,
                api_key=key.get_secret_value() or "unset",
                timeout=voice.timeout_s,
                max_retries=self._llm.max_retries,
            )
        return self._made

    async def aclose(self) -> None:
        if self._made is not None:
            await self._made.close()

    async def transcribe(self, data: bytes, filename: str, content_type: str) -> str:
        """The text spoken in `data`. AudioRejectedError if the endpoint refuses the file."""
        try:
            result = await self._client.audio.transcriptions.create(
                model=self.config.model,
                file=(filename, data, content_type),
                response_format="json",
                language=self.config.language or openai.omit,
            )
        except openai.BadRequestError as exc:
            raise AudioRejectedError("the transcription service refused this audio") from exc
        except openai.APIStatusError as exc:
            if exc.status_code == 413:
                raise AudioTooLargeError("the recording is too large to transcribe") from exc
            raise translate_error(exc) from exc
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        text = getattr(result, "text", result)
        if not isinstance(text, str):
            raise LLMError("the transcription service answered without text")
        return text.strip()

    async def speak(self, text: str) -> bytes:
        """Speech for `text`, asked for as OGG/Opus (what Telegram's sendVoice wants)."""
        try:
            response = await self._client.audio.speech.create(
                model=self.config.tts_model,
                voice=self.config.tts_voice,
                input=text[: self.config.max_tts_chars],
                response_format="opus",
            )
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return response.content
