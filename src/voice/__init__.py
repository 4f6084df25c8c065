"""Voice in and out: limits, conversion (pydub in a worker thread), transcription, speech."""
