"""The exception hierarchy, split by who must act on an error.

- the operator: ConfigError (bad config.yml / mcp.yml / environment)
- the model:    ToolError and its children (the model gets the message and may retry)
- the user:     UserInputError (say so plainly)
- a peer:       LLMError, ConversationError, ChannelError (a service is down or refused)
- the code:     anything else (a bug; logged with a traceback, never shown to users)
"""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(AssistantError):
    """Invalid configuration. `str()` is one line naming the file and the key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{message}")


class ConversationError(AssistantError):
    """The conversation store failed (I/O, service down, corrupt data)."""


class LLMError(AssistantError):
    """The model endpoint failed or answered something unusable."""


class LLMTimeoutError(LLMError):
    """The model did not answer within the configured time."""


class LLMUnavailableError(LLMError):
    """The model endpoint could not be reached or answered 5xx."""


class ToolError(AssistantError):
    """A tool failed. The message is safe to show to the model."""


class ToolArgumentError(ToolError):
    """The model called a tool with arguments that do not fit its schema."""


class ToolNotFoundError(ToolError):
    """The model called a tool that does not exist (or is not allowed)."""


class AgentError(AssistantError):
    """The agent loop could not finish a turn."""


class ChannelError(AssistantError):
    """A channel (Telegram, console) could not deliver or receive."""


class UserInputError(AssistantError):
    """The user sent something we cannot take. The message is shown to them."""


class RecordConflictError(ConversationError):
    """A record changed since it was read: read it again and redo the change."""
