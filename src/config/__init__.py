"""Configuration: the config.yml schema (schema.py) and the loading of settings files with
${VAR} expansion and one-line errors (loader.py).

Loaded once at start-up (src/cli/) and passed down; `from src.config import X` works for
every name below.
"""

from __future__ import annotations

from src.config.loader import (
    Environment,
    expand_env,
    load_config,
    load_file,
    load_yaml,
    read_environment,
    validate_model,
)
from src.config.schema import (
    AccessConfig,
    AdminConfig,
    AgentConfig,
    AgentsConfig,
    ApprovalConfig,
    AuditConfig,
    ClassifierConfig,
    CompactionConfig,
    Config,
    ConversationConfig,
    DocumentsConfig,
    DynamoDBStoreConfig,
    FileStoreConfig,
    HealthConfig,
    LimitsConfig,
    LLMConfig,
    MemoryConfig,
    ModelPrice,
    ModelPricing,
    QueueConfig,
    SchedulerConfig,
    SQSQueueConfig,
    StoreConfig,
    TelegramConfig,
    ToolsConfig,
    VisionConfig,
    VoiceConfig,
    WebhookConfig,
)
from src.errors import ConfigError

__all__ = [
    "AccessConfig",
    "AdminConfig",
    "AgentConfig",
    "AgentsConfig",
    "ApprovalConfig",
    "AuditConfig",
    "ClassifierConfig",
    "CompactionConfig",
    "Config",
    "ConfigError",
    "ConversationConfig",
    "DocumentsConfig",
    "DynamoDBStoreConfig",
    "Environment",
    "FileStoreConfig",
    "HealthConfig",
    "LLMConfig",
    "LimitsConfig",
    "MemoryConfig",
    "ModelPrice",
    "ModelPricing",
    "QueueConfig",
    "SQSQueueConfig",
    "SchedulerConfig",
    "StoreConfig",
    "TelegramConfig",
    "ToolsConfig",
    "VisionConfig",
    "VoiceConfig",
    "WebhookConfig",
    "expand_env",
    "load_config",
    "load_file",
    "load_yaml",
    "read_environment",
    "validate_model",
]
