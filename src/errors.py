"""Every exception this project raises on purpose, split by who must act on it.

- the operator:  ConfigError (bad config.yml / mcp.yml / environment), LLMAuthError (the model
                 endpoint refused our key), FatalPollingError (Telegram refused the bot token)
- the model:     ToolError and its children (the model gets the message and may retry)
- the user:      UserInputError and its children (the message is shown to them as it is)
- a peer:        LLMError and its children, ConversationError, ChannelError, ConnectionLost,
                 UndecodableAudioError (a service is down, refused, or sent something unusable)
- the code:      anything else (a bug; logged with a traceback, never shown to users)

What the user is told for each model failure is decided in one place,
src/channels/failures.py, which both channels use.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error this project raises on purpose."""


# -- the operator -------------------------------------------------------------------------


class ConfigError(AssistantError):
    """Invalid configuration. `str()` is one line naming the file and the key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{message}")


# -- the model ----------------------------------------------------------------------------


class ToolError(AssistantError):
    """A tool failed. The message is safe to show to the model."""


class ToolArgumentError(ToolError):
    """The model called a tool with arguments that do not fit its schema."""


class ToolNotFoundError(ToolError):
    """The model called a tool that does not exist (or is not allowed)."""


class FactRefusedError(ToolError):
    """Memory does not take this fact (empty, too long, the user's memory is full, or memory
    is off in this chat); the message says why, for the model (src/memory/)."""


# -- the user -----------------------------------------------------------------------------


class UserInputError(AssistantError):
    """The user sent something we cannot take. The message is shown to them."""


class EmptyMessageError(UserInputError):
    """The message has no visible text (see src/conversation/text.py); no model call."""


class LimitReachedError(UserInputError):
    """A spend limit stops this turn before any model call; the message names the limit and
    when it resets (src/limits/policy.py)."""


class DocumentError(UserInputError):
    """A document we cannot read (too big, encrypted, damaged, no text, a type we do not
    read); the message says why, for the user (src/documents/)."""


class VoiceError(UserInputError):
    """A voice note we cannot use; the message says why, for the user."""


class VisionError(UserInputError):
    """A photo or image we cannot use (too big, unreadable, not downloadable); the message
    says why, for the user."""


class AudioRejectedError(UserInputError):
    """The transcription endpoint refused the audio itself (unsupported or undecodable)."""


class AudioTooLargeError(UserInputError):
    """The transcription endpoint refused the upload for its size (HTTP 413)."""


# -- a peer: the model endpoint -----------------------------------------------------------


class LLMError(AssistantError):
    """The model endpoint failed or answered something unusable."""


class LLMTimeoutError(LLMError):
    """The model did not answer within the configured time."""


class LLMUnavailableError(LLMError):
    """The model endpoint could not be reached or answered 5xx."""


class LLMRateLimitedError(LLMError):
    """The model endpoint answered 429 (too many requests, or the account's quota)."""


class LLMRequestRefusedError(LLMError):
    """The model endpoint refused the request itself (400 and other 4xx): something in what
    we sent (often the history) is not acceptable to this provider."""


class LLMContentRefusedError(LLMRequestRefusedError):
    """The provider's content policy refused the request or stopped the answer
    (`code: content_policy_violation` / `content_filter`, or finish_reason
    "content_filter")."""


class ImageInputRefusedError(LLMRequestRefusedError):
    """The model endpoint refused a request because the model takes no image input."""


class LLMAuthError(LLMError):
    """The model endpoint refused our credentials (401/403): the operator must act."""


# -- a peer: everything else --------------------------------------------------------------


class ConversationError(AssistantError):
    """The conversation store failed (I/O, service down, corrupt data)."""


class ChannelError(AssistantError):
    """A channel (Telegram, console) could not deliver or receive."""


class ChatBlockedError(ChannelError):
    """Telegram will not let the bot write to that chat (403: blocked, kicked, deleted)."""


class FatalPollingError(ChannelError):
    """Polling cannot go on (revoked token): the process should stop."""


class QueueError(ChannelError):
    """The shared update queue (SQS) could not take, hand out or forget a message."""


class ConnectionLost(AssistantError):
    """A tool server's session ended on its own (the server exited or the transport failed)."""


class UndecodableAudioError(AssistantError):
    """ffmpeg could not read the audio (the message is ffmpeg's, not for users)."""


class RecordConflictError(ConversationError):
    """A record changed since it was read: read it again and redo the change."""
