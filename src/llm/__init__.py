"""The model boundary: an OpenAI-compatible client for streaming chat with tools, the folding
of a streamed answer, and the audio endpoints (transcription, speech)."""
