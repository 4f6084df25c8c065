"""The file backend: one append-only JSONL file per conversation, its blocking I/O done in
worker threads, and a cache of the recent tail of each conversation."""
