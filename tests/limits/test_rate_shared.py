"""The per-user message rate shared by replicas (queue.type: sqs): two MessageRate objects, as
two replica processes would have, on two storages of one store (every backend), on the test
clock. Their buckets are one: a user cannot get past the rate by landing on both."""

from __future__ import annotations

import asyncio

from src.limits.rate import MessageRate
from tests.clock import TestClock
from tests.store.test_records_contract import Backend, backend  # noqa: F401


async def test_two_replicas_take_from_one_bucket(backend: Backend) -> None:  # noqa: F811
    clock = TestClock()
    first_store, second_store = await backend.open_storage(), await backend.open_storage()
    first = MessageRate(3, "drop", clock, shared=first_store.records)
    second = MessageRate(3, "drop", clock, shared=second_store.records)
    taken = await asyncio.gather(
        *(rate.take(7) for rate in (first, second, first, second, first, second))
    )
    assert sum(not a.dropped for a in taken) == 3  # the minute's 3, not 3 on each replica
    assert sum(a.notify for a in taken) == 1  # told once per burst, whichever replica
    assert (await first.take(8)).dropped is False  # another user has a bucket of their own
    await clock.advance(20)  # a third of a minute: one message back
    assert (await second.take(7)).dropped is False
    assert (await first.take(7)).dropped is True


async def test_waiting_messages_queue_up_across_replicas(backend: Backend) -> None:  # noqa: F811
    clock = TestClock()
    first = MessageRate(2, "wait", clock, shared=(await backend.open_storage()).records)
    second = MessageRate(2, "wait", clock, shared=(await backend.open_storage()).records)
    waits = [(await rate.take(7)).wait_s for rate in (first, second, first, second)]
    assert waits == [0.0, 0.0, 30.0, 60.0]  # the third and fourth wait their turn in line
