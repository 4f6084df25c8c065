"""An SQS FIFO queue of Telegram updates, shared by the replicas (queue.type: sqs).

boto3 is imported only here, in a worker thread, when the queue opens. Every call runs in the
queue's own thread pool with adaptive retries, like the DynamoDB client
(src/store/dynamodb/client.py). A message's group is its conversation (SQS hands a group's
next message out only when the previous one is deleted or its visibility runs out) and its
deduplication id is the update id (Telegram's retry of an update already queued is dropped).
Errors become `QueueError` with a short message; the AWS detail goes to the log.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from src.boto_threads import POOL_SIZE, ThreadedClient
from src.config import SQSQueueConfig
from src.errors import QueueError

logger = logging.getLogger(__name__)

T = TypeVar("T")

BATCH = 10  # SQS's largest receive and change-visibility batch
_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt: str
    body: str
    group: str
    receive_count: int


def region_of(url: str, default: str) -> str:
    """The region in an AWS queue URL (https://sqs.REGION.amazonaws.com/...), else `default`."""
    found = _REGION.match(url)
    return found.group(1) if found else default


class SQSQueue(ThreadedClient):
    thread_name = "sqs"

    def __init__(self, config: SQSQueueConfig, region: str, timeout_s: float = 25.0) -> None:
        super().__init__()
        self.config = config
        self.url = config.url
        self.region = region_of(config.url, region)
        self.timeout_s = timeout_s + config.receive_wait_s  # a long poll waits that long

    async def send(self, body: str, group: str, deduplication_id: str) -> None:
        await self._call(
            "send_message",
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=deduplication_id,
        )

    async def receive(self, count: int, wait_s: int | None = None) -> list[Received]:
        """Up to `count` (at most 10) messages, hidden for visibility_timeout_s."""
        response = await self._call(
            "receive_message",
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(count, BATCH)),
            WaitTimeSeconds=self.config.receive_wait_s if wait_s is None else wait_s,
            VisibilityTimeout=self.config.visibility_timeout_s,
            MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
        )
        return [
            Received(
                message_id=str(m["MessageId"]),
                receipt=str(m["ReceiptHandle"]),
                body=str(m["Body"]),
                group=str(m.get("Attributes", {}).get("MessageGroupId", "")),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in response.get("Messages", [])
        ]

    async def delete(self, receipt: str) -> None:
        await self._call("delete_message", QueueUrl=self.url, ReceiptHandle=receipt)

    async def extend(self, receipts: list[str], visibility_s: int | None = None) -> list[str]:
        """Hide these in-flight messages for another visibility_timeout_s (`visibility_s` 0:
        show them again now). Returns the receipts SQS refused (e.g. deleted meanwhile)."""
        seconds = self.config.visibility_timeout_s if visibility_s is None else visibility_s

        async def batch(part: list[str]) -> list[str]:
            entries = [
                {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                for n, receipt in enumerate(part)
            ]
            response = await self._call(
                "change_message_visibility_batch", QueueUrl=self.url, Entries=entries
            )
            return [part[int(failed["Id"])] for failed in response.get("Failed", [])]

        parts = [receipts[n : n + BATCH] for n in range(0, len(receipts), BATCH)]
        refused = await asyncio.gather(*(batch(part) for part in parts))
        return [receipt for part in refused for receipt in part]

    async def attributes(self) -> dict[str, str]:
        """The queue's attributes (FifoQueue, RedrivePolicy, counts), for --check."""
        response = await self._call(
            "get_queue_attributes", QueueUrl=self.url, AttributeNames=["All"]
        )
        return {str(k): str(v) for k, v in response.get("Attributes", {}).items()}

    def _not_open(self) -> Exception:
        return QueueError("the SQS queue is not open")

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.run(functools.partial(self._call_sync, operation, **params))

    def _call_sync(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            raise QueueError("the SQS queue is not open")
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            logger.warning("queue: SQS %s failed: %s", operation, exc)
            raise QueueError(f"SQS {operation} failed ({code or 'unknown error'})") from exc
        except BotoCoreError as exc:
            logger.warning("queue: SQS %s failed: %s", operation, exc)
            raise QueueError(f"SQS {operation} failed ({type(exc).__name__})") from exc
        return response

    def _make_client(self) -> Any:
        import boto3  # heavy: only when queue.type is sqs, and off the loop
        from botocore.config import Config as BotoConfig

        settings = BotoConfig(
            retries={"mode": "adaptive", "total_max_attempts": 5},
            max_pool_connections=POOL_SIZE,
            connect_timeout=10,
            read_timeout=self.timeout_s,
            tcp_keepalive=True,
        )
        # The endpoint comes from AWS_ENDPOINT_URL_SQS when set (boto3 reads it).
        session = boto3.session.Session()
        return session.client("sqs", region_name=self.region, config=settings)
