"""What moto in server mode enforces of SQS FIFO (the replica tests rely on it), and the one
thing it does not: see tests/peers/sqs.py."""

from __future__ import annotations

from typing import Any

from tests.peers import sqs


def send(client: Any, url: str, body: str, group: str, dedup: str) -> None:
    client.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
    )


def receive(client: Any, url: str, count: int = 1, visibility: int = 30) -> list[dict[str, Any]]:
    found = client.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility,
        MessageSystemAttributeNames=["MessageGroupId"],
    )
    return list(found.get("Messages", []))


def test_a_group_waits_while_its_message_is_in_flight(moto: str) -> None:
    client, url = sqs.client(moto), sqs.create_fifo(moto)
    for n in range(3):
        send(client, url, f"a{n}", "a", f"a{n}")
    send(client, url, "b0", "b", "b0")
    [first] = receive(client, url)
    assert first["Body"] == "a0"
    later = receive(client, url, count=10)
    assert [m["Body"] for m in later] == ["b0"]  # a1, a2 wait for a0
    client.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert [m["Body"] for m in receive(client, url, count=10)] == ["a1", "a2"]


def test_a_deduplication_id_is_taken_once(moto: str) -> None:
    client, url = sqs.client(moto), sqs.create_fifo(moto)
    send(client, url, "first", "a", "1000")
    send(client, url, "again", "a", "1000")  # Telegram's retry of the same update
    assert [m["Body"] for m in receive(client, url, count=10)] == ["first"]
    assert receive(client, url, count=10) == []


def test_after_max_receives_a_message_goes_to_the_dead_letter_queue(moto: str) -> None:
    client, url = sqs.client(moto), sqs.create_fifo(moto, max_receives=2)
    send(client, url, "poison", "a", "1")
    for _ in range(2):
        assert [m["Body"] for m in receive(client, url, visibility=0)] == ["poison"]
    assert receive(client, url) == []
    dlq = url.replace(".fifo", "-dlq.fifo")
    assert [m["Body"] for m in receive(client, dlq)] == ["poison"]
