"""Bot-side time from a voice note's arrival to the transcription request being sent.

The real bot runs in this process against the local Telegram and OpenAI-compatible servers;
notes are real OGG/Opus made by ffmpeg. "received" is when the note is handed to the waiting
getUpdates; "sent" is when the transcription request reaches the local server, so the figure
covers intake, the inbox write, getFile, the download, and the optional wav conversion.

    python -m bench.voice [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/<name>.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import in_process_bot
from tests.harness import OWNER
from tests.voice.audio import tone


async def measure(seconds: int, convert: bool, runs: int) -> list[float]:
    note = tone(float(seconds))
    voice = {"upload_format": "wav" if convert else "original", "echo_transcript": False}
    results = []
    async with in_process_bot(voice=voice, telegram={"streaming": False}) as (telegram, model):
        for run in range(runs):
            before = time.monotonic()
            telegram.push_voice(OWNER, note, duration=seconds)
            await telegram.wait_for_messages(OWNER, run + 1, timeout=60)
            assert model.audio.transcriptions, telegram.texts(OWNER)
            results.append((model.audio.transcriptions[-1].received_at - before) * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"Voice note received -> transcription request sent, median of {args.runs} runs; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print("| note | as it is (ms) | converted to wav (ms) |")
    print("|---:|---:|---:|")
    for seconds in (10, 60):
        plain = statistics.median(asyncio.run(measure(seconds, False, args.runs)))
        converted = statistics.median(asyncio.run(measure(seconds, True, args.runs)))
        print(f"| {seconds} s | {plain:.1f} | {converted:.1f} |")


if __name__ == "__main__":
    main()
