"""Real audio for tests: espeak-ng speaks, ffmpeg encodes like Telegram's voice notes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.peers.openai_audio import FFPROBE, sine_command, summarize


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not installed: run scripts/test.sh "
            "(it apt-get installs ffmpeg and espeak-ng)"
        )


def spoken_voice_note(sentence: str) -> bytes:
    """OGG/Opus, 48 kHz mono, like a Telegram voice note, of espeak-ng saying `sentence`."""
    require("espeak-ng", "ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), sentence], check=True)
        return _encode(wav, ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-f", "ogg"])


def tone(seconds: float, fmt: str = "ogg") -> bytes:
    """A sine tone of the given length, as OGG/Opus (or mp3/wav)."""
    require("ffmpeg")
    args = {"ogg": ["-c:a", "libopus", "-f", "ogg"], "mp3": ["-f", "mp3"], "wav": ["-f", "wav"]}
    return subprocess.run(
        sine_command(seconds, 300, args[fmt]), check=True, capture_output=True
    ).stdout


def probe(data: bytes) -> dict[str, object]:
    require("ffprobe")
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        out = subprocess.run([*FFPROBE, f.name], check=True, capture_output=True).stdout
    fmt, codec, duration = summarize(json.loads(out))
    return {"format": fmt, "codec": codec, "duration": duration}


def _encode(source: Path, args: list[str]) -> bytes:
    command = ["ffmpeg", "-v", "error", "-i", str(source), "-ac", "1", *args, "pipe:1"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def round_video(seconds: float) -> bytes:
    """An MP4 with video and a tone, like a Telegram round video note."""
    require("ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "note.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc=size=240x240:rate=10:duration={seconds}",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=300:duration={seconds}",
                "-c:v",
                "mpeg4",
                "-c:a",
                "aac",
                "-shortest",
                str(target),
            ],
            check=True,
            capture_output=True,
        )
        return target.read_bytes()
