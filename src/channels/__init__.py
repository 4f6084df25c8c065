"""Channels: turn input into `Request`s and render `Response`s. The durable inbox and the
per-conversation lanes are shared; telegram/ and the console are the channels."""
