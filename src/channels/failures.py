"""A failed turn, told apart for the user: the one mapping from an exception to what they
read, the metric outcome, and the log line. Both channels (Telegram and the console) use it.

| error                       | the user reads        | log                            |
| --------------------------- | --------------------- | ------------------------------ |
| EmptyMessageError           | EMPTY_MESSAGE         | info                           |
| other UserInputError        | its own message       | info                           |
| LLMTimeoutError             | MODEL_TIMEOUT         | warning                        |
| LLMUnavailableError         | MODEL_DOWN            | warning                        |
| LLMRateLimitedError (429)   | MODEL_BUSY            | warning                        |
| LLMContentRefusedError      | CONTENT_REFUSED       | warning                        |
| ImageInputRefusedError      | NO_IMAGE_INPUT        | error                          |
| LLMRequestRefusedError (4xx)| MODEL_REFUSED         | error                          |
| LLMAuthError (401/403)      | MODEL_AUTH            | warning (the client: critical, once) |
| other LLMError              | MODEL_DOWN            | warning                        |
| ConversationError           | STORE_DOWN            | error with traceback           |
| anything else               | FAILED                | error with traceback (a bug)   |
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from src.channels.telegram import texts
from src.errors import (
    ConversationError,
    EmptyMessageError,
    ImageInputRefusedError,
    LLMAuthError,
    LLMContentRefusedError,
    LLMError,
    LLMRateLimitedError,
    LLMRequestRefusedError,
    LLMTimeoutError,
    LLMUnavailableError,
    UserInputError,
)
from src.ops import metrics

logger = logging.getLogger(__name__)

_MODEL_TEXTS: list[tuple[type[LLMError], str]] = [  # most specific first
    (LLMTimeoutError, texts.MODEL_TIMEOUT),
    (LLMUnavailableError, texts.MODEL_DOWN),
    (LLMRateLimitedError, texts.MODEL_BUSY),
    (LLMContentRefusedError, texts.CONTENT_REFUSED),
    (ImageInputRefusedError, texts.NO_IMAGE_INPUT),
    (LLMRequestRefusedError, texts.MODEL_REFUSED),
    (LLMAuthError, texts.MODEL_AUTH),
]


@dataclass(frozen=True)
class Failure:
    """What to tell the user about a failed turn, and how to count it."""

    text: str
    outcome: str  # one of metrics.TURN_OUTCOMES


def describe(exc: BaseException, conversation_id: str) -> Failure:
    """The user's text for `exc`, logged here once with the conversation id."""
    if isinstance(exc, EmptyMessageError):
        logger.info("conversation %s: empty message, not sent to the model", conversation_id)
        return Failure(texts.EMPTY_MESSAGE, metrics.TURN_OK)
    if isinstance(exc, UserInputError):
        logger.info("conversation %s: input refused: %s", conversation_id, exc)
        return Failure(str(exc), metrics.TURN_OK)
    if isinstance(exc, LLMError):
        _log_model_error(exc, conversation_id)
        outcome = metrics.TURN_MODEL_ERROR
        if isinstance(exc, LLMTimeoutError):
            outcome = metrics.TURN_MODEL_TIMEOUT
        text = next((t for kind, t in _MODEL_TEXTS if isinstance(exc, kind)), texts.MODEL_DOWN)
        return Failure(text, outcome)
    if isinstance(exc, ConversationError):
        logger.error("conversation %s: store failed during the turn", conversation_id, exc_info=exc)
        return Failure(texts.STORE_DOWN, metrics.TURN_STORE_ERROR)
    logger.error("conversation %s: turn failed", conversation_id, exc_info=exc)
    return Failure(texts.FAILED, metrics.TURN_FAILED)


def _log_model_error(exc: LLMError, conversation_id: str) -> None:
    if isinstance(exc, LLMAuthError):  # the client logs it at CRITICAL, once per process
        logger.warning("conversation %s: model refused the credentials", conversation_id)
    elif isinstance(exc, LLMRequestRefusedError) and not isinstance(exc, LLMContentRefusedError):
        logger.error("conversation %s: model refused the request: %s", conversation_id, exc)
    else:
        logger.warning("conversation %s: model failed: %s", conversation_id, exc)
