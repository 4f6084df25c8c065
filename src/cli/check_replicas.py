"""--check for the shared queue: the SQS queue's own settings (FIFO, the dead-letter redrive)
against config. (What Telegram says of the webhook: check_webhook in
src/channels/telegram/webhook.py.)"""

from __future__ import annotations

import json

from src.config import Config
from src.errors import AssistantError


async def check_queue(config: Config) -> tuple[bool, str]:
    """The queue answers, is FIFO, and sends a message to a dead-letter queue after
    `queue.sqs.max_receives` receives."""
    from src.queue.sqs import SQSQueue

    settings = config.queue.sqs
    queue = SQSQueue(settings, config.store.dynamodb.region)
    try:
        await queue.start()
        attributes = await queue.attributes()
    except AssistantError as exc:
        return False, f"{settings.url}: {exc}"
    finally:
        await queue.close()
    if attributes.get("FifoQueue") != "true":
        return False, f"{settings.url} is not a FIFO queue"
    waiting = attributes.get("ApproximateNumberOfMessages", "?")
    in_flight = attributes.get("ApproximateNumberOfMessagesNotVisible", "?")
    detail = f"{settings.url}: FIFO, {waiting} waiting, {in_flight} in flight"
    try:
        redrive = json.loads(attributes.get("RedrivePolicy", ""))
    except ValueError:
        return False, f"{detail}; no dead-letter queue (RedrivePolicy) is set"
    receives = int(redrive.get("maxReceiveCount", 0))
    target = str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
    if receives != settings.max_receives:
        return False, (
            f"{detail}; the dead-letter queue {target} takes a message after {receives} "
            f"receives, queue.sqs.max_receives is {settings.max_receives}"
        )
    return True, f"{detail}; dead-letter queue {target} after {receives} receives"
