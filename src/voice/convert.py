"""Audio conversion with pydub (ffmpeg). Blocking: call these from a worker thread.

Decoding reads the input file through a pipe and wav export writes straight to the target,
so pydub leaves no temporary files of its own outside our private directory.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from src.errors import UndecodableAudioError

logger = logging.getLogger(__name__)

TRANSCRIPTION_RATE = 16000  # Hz, mono: what speech models use; keeps uploads small


def to_wav(source: Path, target: Path) -> float:
    """Decode any audio/video file ffmpeg reads into 16 kHz mono wav. Returns seconds."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
        from pydub import AudioSegment
        from pydub.exceptions import CouldntDecodeError
    try:
        audio = AudioSegment.from_file(str(source))
    except (CouldntDecodeError, IndexError, OSError) as exc:
        raise UndecodableAudioError(str(exc)[:200]) from exc
    if len(audio) == 0:
        raise UndecodableAudioError("no audio frames")
    audio = audio.set_channels(1).set_frame_rate(TRANSCRIPTION_RATE)
    audio.export(str(target), format="wav")
    return len(audio) / 1000.0
