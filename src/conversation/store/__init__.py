"""Conversation stores and the factory that picks one from config."""

from __future__ import annotations

from src.config import StoreConfig
from src.conversation.store.base_store import ConversationInfo, ConversationStore
from src.errors import ConfigError

__all__ = ["ConversationInfo", "ConversationStore", "create_store"]


def create_store(config: StoreConfig, config_file: str = "config.yml") -> ConversationStore:
    """Build the configured backend. Backends with heavy imports are imported only here."""
    if config.type == "file":
        from src.conversation.store.file_store import FileStore

        return FileStore(config.file.directory, fsync=config.file.fsync)
    raise ConfigError(
        config_file, "store.type", f"the {config.type!r} store is not available in this build"
    )
