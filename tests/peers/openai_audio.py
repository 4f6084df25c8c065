"""Audio routes for FakeOpenAI: /v1/audio/transcriptions checks with ffprobe that it got
decodable audio (and how long it is) before answering; /v1/audio/speech makes real OGG/Opus
(or other formats) with ffmpeg."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACCEPTED_FORMATS = {"ogg", "wav", "mp3", "mov", "mp4", "m4a", "webm", "flac", "mpeg", "mpga", "oga"}


def require_ffmpeg() -> None:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not installed: run scripts/test.sh (apt-get install ffmpeg)"
        )


@dataclass
class Transcription:
    model: str
    filename: str
    content_type: str
    size: int
    format: str | None  # what ffprobe found (e.g. "ogg", "wav"); None if undecodable
    codec: str | None
    duration: float | None
    language: str | None
    received_at: float  # time.monotonic() when the request arrived


@dataclass
class AudioState:
    """Settable behaviour and what was received (guarded by `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    transcript: str = "this is what the voice note said"
    accepted_formats: set[str] = field(default_factory=lambda: set(ACCEPTED_FORMATS))
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests
    transcriptions: list[Transcription] = field(default_factory=list)
    speech_requests: list[dict[str, Any]] = field(default_factory=list)


FFPROBE = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]


def summarize(info: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    """(format, codec, duration in s) of the first audio stream in ffprobe's JSON."""
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        return None, None, None
    fmt = str(info.get("format", {}).get("format_name", "")).split(",")[0] or None
    duration = info.get("format", {}).get("duration")
    return fmt, streams[0].get("codec_name"), float(duration) if duration else None


async def probe(data: bytes) -> tuple[str | None, str | None, float | None]:
    """(format, codec, duration in s) as ffprobe reads them, or Nones."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        process = await asyncio.create_subprocess_exec(
            *FFPROBE, f.name, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        out, _ = await process.communicate()
    if process.returncode != 0:
        return None, None, None
    return summarize(json.loads(out or b"{}"))


def sine_command(seconds: float, frequency: int, output_args: list[str]) -> list[str]:
    """ffmpeg arguments for a mono sine tone written to stdout."""
    tone = f"sine=frequency={frequency}:duration={seconds}"
    return ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", tone, "-ac", "1", *output_args, "pipe:1"]


async def synthesize(text: str, response_format: str) -> bytes:
    """A real audio file: a tone lasting about as long as the text would take to say."""
    seconds = min(10.0, max(0.5, len(text) / 15))
    codec = {
        "opus": ["-c:a", "libopus", "-f", "ogg"],
        "mp3": ["-f", "mp3"],
        "wav": ["-f", "wav"],
        "aac": ["-f", "adts"],
        "flac": ["-f", "flac"],
    }
    command = sine_command(seconds, 440, codec.get(response_format, codec["mp3"]))
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await process.communicate()
    return out


def add_audio_routes(app: web.Application, state: AudioState, authorized: Any, error: Any) -> None:
    async def transcriptions(request: web.Request) -> web.Response:
        received_at = time.monotonic()
        if not authorized(request):
            return error(401, "Incorrect API key provided")
        with state.lock:
            failure = state.fail_next.pop(0) if state.fail_next else None
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return error(400, "file is required", "file")
        data = upload.file.read()
        fmt, codec, duration = await probe(data)
        language = form.get("language")
        record = Transcription(
            model=str(form.get("model", "")),
            filename=upload.filename,
            content_type=upload.content_type,
            size=len(data),
            format=fmt,
            codec=codec,
            duration=duration,
            language=str(language) if language else None,
            received_at=received_at,
        )
        with state.lock:
            state.transcriptions.append(record)
            accepted = fmt in state.accepted_formats
            text = state.transcript
        if failure is not None:
            return error(failure, "injected error")
        if fmt is None:
            return error(400, "Audio file might be corrupted or unsupported", "file")
        if not accepted:
            return error(
                400,
                f"Invalid file format. Supported formats: {sorted(state.accepted_formats)}",
                "file",
            )
        return web.json_response({"text": text})

    async def speech(request: web.Request) -> web.Response:
        if not authorized(request):
            return error(401, "Incorrect API key provided")
        body = await request.json()
        with state.lock:
            state.speech_requests.append(body)
            failure = state.fail_next.pop(0) if state.fail_next else None
        if failure is not None:
            return error(failure, "injected error")
        if not body.get("input") or not body.get("model") or not body.get("voice"):
            return error(400, "model, voice and input are required")
        response_format = body.get("response_format", "mp3")
        audio = await synthesize(str(body["input"]), response_format)
        kind = "audio/ogg" if response_format == "opus" else f"audio/{response_format}"
        return web.Response(body=audio, content_type=kind)

    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/audio/speech", speech)
