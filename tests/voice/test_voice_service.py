"""VoiceService on its own: conversion off the event loop, temp files always removed."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from blockbuster import blockbuster_ctx

from src.config import Config, load_config
from src.errors import VoiceError
from src.voice.service import AudioInput, VoiceService
from tests.peers.openai_server import FakeOpenAI
from tests.voice.audio import tone


@pytest.fixture
def config(tmp_path: Path, model: FakeOpenAI) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(
        f"llm:\n  api_key: sk-test\n  base_url: {model.base_url}\n  max_retries: 0\n"
        "voice:\n  upload_format: wav\n"
    )
    return load_config(path, env={})


@pytest.fixture
def service(config: Config) -> Iterator[VoiceService]:
    voice = VoiceService(config)
    yield voice
    if voice.temp.path is not None:
        shutil.rmtree(voice.temp.path, ignore_errors=True)


async def test_conversion_never_blocks_the_event_loop(
    service: VoiceService, model: FakeOpenAI
) -> None:
    note = AudioInput(tone(2.0), "voice.ogg", "audio/ogg")
    await service.transcribe(note)  # warm up: imports and the HTTP connection
    # Finalizers of objects left by earlier tests (files, sockets) must not run inside the
    # check: collect them now and keep the collector off while it runs.
    gc.collect()
    gc.disable()
    try:
        with blockbuster_ctx(["src", "pydub"]):  # any blocking call on the loop raises
            text = await service.transcribe(note)
    finally:
        gc.enable()
    assert text == model.audio.transcript
    assert [t.format for t in model.audio.transcriptions] == ["wav", "wav"]
    await service.aclose()


async def test_temp_files_are_removed_also_on_errors(
    service: VoiceService, model: FakeOpenAI
) -> None:
    await service.transcribe(AudioInput(tone(1.0), "voice.ogg", "audio/ogg"))
    directory = service.temp.path
    assert directory is not None
    assert oct(directory.stat().st_mode & 0o777) == "0o700"  # private
    assert list(directory.iterdir()) == []
    with pytest.raises(VoiceError):
        await service.transcribe(AudioInput(os.urandom(3000), "voice.ogg", "audio/ogg"))
    assert list(directory.iterdir()) == []
    model.audio.fail_next.append(503)
    with pytest.raises(VoiceError, match="isn't answering"):
        await service.transcribe(AudioInput(tone(1.0), "voice.ogg", "audio/ogg"))
    assert list(directory.iterdir()) == []
    await service.aclose()
    assert not directory.exists()


async def test_empty_recording(service: VoiceService) -> None:
    with pytest.raises(VoiceError, match="empty"):
        await service.transcribe(AudioInput(b"", "voice.ogg", "audio/ogg"))
    await service.aclose()


async def test_a_413_says_the_recording_is_too_large(
    service: VoiceService, model: FakeOpenAI
) -> None:
    model.audio.fail_next.append(413)
    with pytest.raises(VoiceError, match="too large"):
        await service.transcribe(AudioInput(tone(1.0), "voice.ogg", "audio/ogg"))
    await service.aclose()
