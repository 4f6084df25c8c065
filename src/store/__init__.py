"""Conversation stores and the factory that picks one from config."""

from __future__ import annotations

from src.config import StoreConfig
from src.errors import ConfigError
from src.store.conversations import ConversationInfo, ConversationStore

__all__ = ["ConversationInfo", "ConversationStore", "create_store"]


def create_store(config: StoreConfig, config_file: str = "config.yml") -> ConversationStore:
    """The configured backend, timed for /metrics (MeteredStore)."""
    from src.store.metered import MeteredStore

    return MeteredStore(_create_backend(config, config_file))


def _create_backend(config: StoreConfig, config_file: str) -> ConversationStore:
    """Build the configured backend. Backends with heavy imports are imported only here."""
    if config.type == "file":
        from src.store.file.conversations import FileStore

        return FileStore(config.file.directory, fsync=config.file.fsync)
    if config.type == "dynamodb":
        from src.store.dynamodb.conversations import DynamoDBStore  # boto3 loads in open()

        return DynamoDBStore(config.dynamodb)
    raise ConfigError(
        config_file, "store.type", f"the {config.type!r} store is not available in this build"
    )
