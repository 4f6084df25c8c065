"""SQS FIFO queues on the session's moto server (tests/peers/dynamodb.py starts it; moto in
server mode answers every AWS service on one port).

What moto enforces, checked in tests/replicas/test_sqs_peer.py: a FIFO group's later messages
are not handed out while an earlier one is in flight, for ReceiveMessage calls one after
another; deduplication ids; the redrive policy (a message received `maxReceiveCount` times
moves to the dead-letter queue). What it does not: two ReceiveMessage calls at the same time
(its server is threaded, the check takes no lock) can both hand out messages of one group,
so that a conversation's next message is answered before the one before it. The replica
tests therefore send ReceiveMessage through `serialized`, a proxy that forwards one at a
time; real SQS needs no such help.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from tests.peers.dynamodb import REGION, DynamoDBProxy

if TYPE_CHECKING:
    import pytest


def client(endpoint: str) -> Any:
    """A plain boto3 SQS client (call it from a thread or outside the event loop)."""
    import boto3

    return boto3.session.Session().client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def create_fifo(endpoint: str, max_receives: int = 5, name: str | None = None) -> str:
    """A new FIFO queue with its dead-letter queue after `max_receives`; returns its URL."""
    sqs = client(endpoint)
    name = name or f"updates-{uuid.uuid4().hex[:10]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    queue = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps(redrive)},
    )
    return str(queue["QueueUrl"])


def counts(endpoint: str, url: str) -> tuple[int, int]:
    """(waiting, in flight) messages of the queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = client(endpoint).get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return int(found["Attributes"][names[0]]), int(found["Attributes"][names[1]])


def use_sqs_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """boto3 reads AWS_ENDPOINT_URL_SQS (our code does not): in-process bots and children."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)


def serialized(endpoint: str) -> DynamoDBProxy:
    """A proxy in front of moto that forwards ReceiveMessage calls one at a time (a context
    manager; its `url` is the endpoint to use)."""
    return DynamoDBProxy(endpoint, serialize=frozenset({"ReceiveMessage"}))
