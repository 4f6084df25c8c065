"""Voice notes in and voice replies out, with real audio against the local servers."""

from __future__ import annotations

import asyncio
import os

import pytest

from src.channels.telegram import texts
from tests.harness import OWNER, BotRunner
from tests.peers.serve import wait_until
from tests.voice.audio import probe, round_video, spoken_voice_note, tone

SENTENCE = "Remind me to buy milk tomorrow morning"


async def test_a_spoken_note_reaches_the_model_as_text(bots: BotRunner) -> None:
    note = spoken_voice_note(SENTENCE)
    seconds = probe(note)["duration"]
    assert isinstance(seconds, float)
    bots.model.audio.transcript = SENTENCE
    await bots.start()
    bots.telegram.push_voice(OWNER, note, duration=round(seconds))
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[0]["text"] == f"🎤 {SENTENCE}"  # what was understood, before the answer
    assert sent[1]["text"] == f"echo: {SENTENCE}"
    (received,) = bots.model.audio.transcriptions
    assert received.format == "ogg" and received.codec == "opus"  # sent as it is
    assert received.duration is not None and abs(received.duration - seconds) < 0.2
    assert received.model == "whisper-1"  # the transcription model, not the chat model
    history = await bots.history(str(OWNER))
    assert history[0].content == SENTENCE
    assert history[0].metadata["source"] == "voice"
    assert history[0].metadata["voice"]["media"] == "voice"


async def test_conversion_when_the_endpoint_wants_wav(bots: BotRunner) -> None:
    bots.model.audio.accepted_formats = {"wav"}
    await bots.start(voice={"upload_format": "wav"})
    bots.telegram.push_voice(OWNER, tone(3.0), duration=3)
    await bots.telegram.wait_for_messages(OWNER, 2)
    (received,) = bots.model.audio.transcriptions
    assert received.format == "wav" and received.duration is not None
    assert abs(received.duration - 3.0) < 0.2


async def test_auto_converts_after_a_refusal_and_remembers(bots: BotRunner) -> None:
    bots.model.audio.accepted_formats = {"wav"}
    await bots.start()
    bots.telegram.push_voice(OWNER, tone(2.0), duration=2)
    await bots.telegram.wait_for_messages(OWNER, 2)
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    await bots.telegram.wait_for_messages(OWNER, 4)
    formats = [t.format for t in bots.model.audio.transcriptions]
    assert formats == ["ogg", "wav", "wav"]  # refused once, then straight to wav


async def test_limits_are_checked_before_downloading(bots: BotRunner) -> None:
    await bots.start(voice={"max_duration_s": 60, "max_file_mb": 1})
    bots.telegram.push_voice(OWNER, tone(1.0), duration=61)
    bots.telegram.push_voice(OWNER, b"x" * 1_200_000, duration=5)
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert "60 seconds" in sent[0]["text"] and "61 seconds" in sent[0]["text"]
    assert "1 MB" in sent[1]["text"]
    assert bots.telegram.calls("getFile") == []
    assert bots.model.request_count == 0 and bots.model.audio.transcriptions == []


async def test_telegram_download_limit_is_explained(bots: BotRunner) -> None:
    await bots.start(voice={"max_file_mb": 50})
    bots.telegram.push_voice(OWNER, b"x" * 21_000_000, duration=5)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert "20 MB" in sent[0]["text"] and "Telegram" in sent[0]["text"]


async def test_corrupt_audio_gets_a_plain_answer(bots: BotRunner) -> None:
    await bots.start()
    bots.telegram.push_voice(OWNER, os.urandom(4000), duration=2)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert "couldn't make out that audio" in sent[0]["text"]
    assert bots.model.request_count == 0
    bots.telegram.push_message(OWNER, "still there?")
    assert (await bots.telegram.wait_for_messages(OWNER, 2))[1]["text"] == "echo: still there?"


async def test_transcription_service_down(bots: BotRunner) -> None:
    await bots.start()
    bots.model.audio.fail_next.append(500)
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert "transcription service isn't answering" in sent[0]["text"]
    assert "500" not in sent[0]["text"]


async def test_empty_transcript(bots: BotRunner) -> None:
    bots.model.audio.transcript = "  "
    await bots.start()
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == "I couldn't hear anything in that recording."
    assert bots.model.request_count == 0


async def test_voice_reply_is_real_ogg_opus(bots: BotRunner) -> None:
    await bots.start(voice={"reply_with_voice": "auto", "echo_transcript": False})
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    await wait_until(lambda: bool(bots.telegram.uploaded(OWNER)), timeout=15)
    ((method, audio),) = bots.telegram.uploaded(OWNER)
    assert method.lower() == "sendvoice"
    info = probe(audio)
    assert info["format"] == "ogg" and info["codec"] == "opus"
    (speech,) = bots.model.audio.speech_requests
    assert speech["response_format"] == "opus" and speech["model"] == "tts-1"
    assert bots.telegram.texts(OWNER) == [f"echo: {bots.model.audio.transcript}"]
    bots.telegram.push_message(OWNER, "typed")  # auto: typed messages get text only
    await bots.telegram.wait_for_messages(OWNER, 2)
    await asyncio.sleep(0.3)
    assert len(bots.telegram.uploaded(OWNER)) == 1


async def test_voice_disabled_says_what_it_takes(bots: BotRunner) -> None:
    await bots.start(voice={"enabled": False})
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert sent[0]["text"] == texts.TEXT_ONLY


def _media_update(kind: str, file_id: str, size: int, extra: dict[str, object]) -> dict:
    media = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "duration": 2,
        "file_size": size,
        **extra,
    }
    message = {
        "message_id": 77,
        "date": 0,
        "chat": {"id": OWNER, "type": "private"},
        "from": {"id": OWNER, "is_bot": False, "first_name": "A"},
        kind: media,
    }
    return {"message": message}


async def test_audio_files_and_round_videos_are_transcribed(bots: BotRunner) -> None:
    await bots.start()
    mp3 = tone(2.0, "mp3")
    file_id = bots.telegram.add_file(mp3)
    bots.telegram.push_update(
        _media_update(
            "audio", file_id, len(mp3), {"mime_type": "audio/mpeg", "file_name": "memo.mp3"}
        )
    )
    await bots.telegram.wait_for_messages(OWNER, 2)
    video = round_video(2.0)
    video_id = bots.telegram.add_file(video)
    bots.telegram.push_update(_media_update("video_note", video_id, len(video), {"length": 240}))
    await bots.telegram.wait_for_messages(OWNER, 4)
    first, second = bots.model.audio.transcriptions
    assert (first.format, first.filename) == ("mp3", "audio.mp3")
    assert second.format == "mov" and second.filename == "video_note.mp4"
    assert second.duration is not None and abs(second.duration - 2.0) < 0.3


async def test_transcription_and_speech_are_counted_and_a_user_over_budget_is_not_transcribed(
    bots: BotRunner,
) -> None:
    prices = {
        "whisper-1": {"usd_per_audio_minute": 0.006},
        "tts-1": {"usd_per_mchars": 15},
        "test-model": {"input_usd_per_mtok": 0, "output_usd_per_mtok": 0},
    }
    bots.model.audio.transcript = SENTENCE
    bot = await bots.start(
        llm={"models": prices},
        voice={"reply_with_voice": "always"},
        limits={"daily_usd": 0.0035, "warn_at": 0},
    )
    bots.telegram.push_voice(OWNER, tone(30.0), duration=30)
    await bots.telegram.wait_for_messages(OWNER, 2)
    await wait_until(lambda: bool(bots.telegram.uploaded(OWNER)), timeout=15)
    assert bot.service.runtime is not None
    ledger = bot.service.runtime.coordinator.limits.ledger
    await wait_until_async(ledger, 3)
    spend = await ledger.spend(OWNER)
    spoken = len(f"echo: {SENTENCE}")
    assert spend.day.usd == pytest.approx(0.5 * 0.006 + spoken * 15 / 1e6)
    assert spend.day.requests == 3  # transcription, chat, speech

    before = len(bots.model.audio.transcriptions)
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)  # $0.00366 spent of $0.0035
    sent = await bots.telegram.wait_for_messages(OWNER, 3)
    assert sent[-1]["text"].startswith("You've reached your daily spending limit of $0.0035.")
    assert len(bots.model.audio.transcriptions) == before  # not transcribed: no cost


async def wait_until_async(ledger: object, requests: int) -> None:
    """The speech is counted after the voice reply is sent: wait for it."""
    for _ in range(200):
        if (await ledger.spend(OWNER)).day.requests >= requests:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
