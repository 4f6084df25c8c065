"""The Telegram channel: polling, handlers, access checks, streaming replies, formatting and
the 4096-unit split, rate limits, voice notes, and the running service."""
