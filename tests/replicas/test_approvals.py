"""Asking before acting with two replicas (in this process, each with its own consumer, one
SQS queue on moto and one DynamoDB table): the button press is a message group of its own,
so the turn waiting for it (holding its conversation's group) does not block it; and a press
handled by the other replica reaches the waiting turn through the stored answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.approval.test_telegram import buttons, everything, nth_message, press, tool_results
from tests.harness import OWNER, BotRunner, free_port
from tests.peers import sqs
from tests.peers.openai_server import Reply
from tests.peers.round_robin import RoundRobin
from tests.peers.serve import wait_until
from tests.replicas.test_sqs import replicated
from tests.toolservers.conftest import mcp_peers
from tests.toolservers.peers import MCPPeers

__all__ = ["mcp_peers"]


@pytest.fixture
def queue(moto: str) -> str:
    return sqs.create_fifo(moto)


async def test_a_press_handled_by_the_other_replica_answers_the_waiting_turn(
    bots: BotRunner,
    moto: str,
    table: str,
    queue: str,
    mcp_peers: MCPPeers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each replica reaches SQS through its own proxy; once the question is shown, the
    waiting replica's ReceiveMessage calls fail (503), so the press can only be received by
    the other one, whose stored answer the waiting turn reads."""
    server = await mcp_peers.everything()
    ports = [bots.health_port, free_port()]
    with (
        RoundRobin([f"http://127.0.0.1:{p}" for p in ports]) as proxy,
        sqs.serialized(moto) as first_sqs,
        sqs.serialized(moto) as second_sqs,
    ):
        settings: dict[str, Any] = replicated(bots, table, queue, f"{proxy.url}/telegram/webhook")
        settings["queue"]["sqs"]["visibility_timeout_s"] = 60
        sqs.use_sqs_endpoint(monkeypatch, first_sqs.url)
        first = await bots.start(mcp=everything(server.url), **settings)
        sqs.use_sqs_endpoint(monkeypatch, second_sqs.url)
        second = await bots.start(mcp=everything(server.url), **settings, health={"port": ports[1]})
        bots.model.enqueue(Reply.tool("ev__echo", message="hello there"), Reply(text="echoed"))
        bots.telegram.push_message(OWNER, "echo something")
        question = await nth_message(bots, 0)
        assert "Approve" in buttons(question)
        consumers = [first.service.consumer, second.service.consumer]
        assert consumers[0] is not None and consumers[1] is not None
        [waiting] = [n for n, c in enumerate(consumers) if c is not None and c.held]
        blocked = (first_sqs, second_sqs)[waiting]
        blocked.decide = lambda op, n: "unavailable" if op == "ReceiveMessage" else "forward"
        await asyncio.sleep(1.5)  # a long poll already under way (receive_wait_s 1) is over

        assert await press(bots, question, "Approve") == "Approved."
        answer = await nth_message(bots, 1)
        assert answer["text"] == "echoed"
        assert tool_results(bots, 1) == ["Echo: hello there"]
        assert len(bots.telegram.sent_messages(OWNER)) == 2
        held = consumers[waiting]
        assert held is not None
        await wait_until(lambda: held.held == {}, 10)  # its turn ended there; deleted
        assert bots.model.request_count == 2
