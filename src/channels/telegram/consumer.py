"""The SQS consumer of one replica (queue.type: sqs): updates from the shared FIFO queue
through the same handlers as polling, one conversation in order.

A message stays in flight (hidden from the other replicas, and with it every later message of
its conversation: SQS FIFO hands a group out one batch at a time) until the turns its update
queued are over, its answer stored and sent; only then is it deleted. While it waits, its
visibility is extended every third of `visibility_timeout_s`. A replica that dies mid-turn
stops extending: the message shows again, another replica receives it, and the inbox (shared
on DynamoDB) says whether the update is still owed (`Intake.resume_owed`: the turn resumes,
or its stored answer is sent) or was answered (nothing happens; the message is deleted).
After `queue.sqs.max_receives` receives SQS moves a message to the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Update
from telegram.ext import Application

from src.channels.telegram.intake import Intake
from src.clock import SYSTEM_CLOCK, Clock, wait_for_event
from src.errors import QueueError
from src.queue.sqs import BATCH, Received, SQSQueue
from src.retry import Backoff

logger = logging.getLogger(__name__)

RECEIVE_BACKOFF = Backoff(1.0, 30.0)
SHORT_POLL_PAUSE_S = 0.05  # receive_wait_s 0: between two empty receives


class Consumer:
    def __init__(
        self,
        queue: SQSQueue,
        application: Application,
        intake: Intake,
        capacity: int,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.queue = queue
        self.application = application
        self.intake = intake
        self.capacity = max(1, capacity)  # messages in flight here at most
        self.clock = clock
        self.held: dict[str, Received] = {}  # message id -> in flight here
        self._hidden_until: dict[str, float] = {}  # receipt -> monotonic end of its visibility
        self.last_receive: float | None = None  # monotonic time of the last good receive
        self._groups: dict[str, asyncio.Task[None]] = {}  # the newest task of each group
        self._room = asyncio.Event()
        self._stop = asyncio.Event()

    @property
    def consuming(self) -> bool:
        if self.last_receive is None or self._stop.is_set():
            return False
        limit = self.queue.config.receive_wait_s + 60
        return self.clock.monotonic() - self.last_receive < limit

    async def run(self) -> None:
        """Receive until `stop_receiving`; a message received while stopping is released."""
        keeper = asyncio.create_task(self._keep_hidden(), name="sqs-visibility")
        failures = 0
        try:
            while not self._stop.is_set():
                room = self.capacity - len(self.held)
                if room <= 0:
                    self._room.clear()
                    await wait_for_event(self.clock, None, self._room, self._stop)
                    continue
                try:
                    batch = await self.queue.receive(min(room, BATCH))
                except QueueError as exc:
                    failures += 1
                    wait = RECEIVE_BACKOFF.delay(failures)
                    logger.error("cannot receive from the queue (%s); again in %.0f s", exc, wait)
                    await wait_for_event(self.clock, wait, self._stop)
                    continue
                failures = 0
                self.last_receive = self.clock.monotonic()
                if not batch and not self.queue.config.receive_wait_s:  # short polls: no spin
                    await wait_for_event(self.clock, SHORT_POLL_PAUSE_S, self._stop)
                if self._stop.is_set():
                    await self._release(batch)
                    break
                hidden = self.last_receive + self.queue.config.visibility_timeout_s
                for message in batch:
                    self.held[message.message_id] = message
                    self._hidden_until[message.receipt] = hidden
                    self._start(message)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    def stop_receiving(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        """After the lanes closed: end the handling still waiting, and release its messages
        at once (visibility 0) so that another replica takes them now."""
        tasks = list(self._groups.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release(list(self.held.values()))
        self.held.clear()

    def _start(self, message: Received) -> None:
        """Handle the message after the ones of its group received before it."""
        before = self._groups.get(message.group)
        task = asyncio.create_task(self._after(before, message), name=f"sqs:{message.group}")
        self._groups[message.group] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._groups.get(message.group) is done:
                del self._groups[message.group]

        task.add_done_callback(forget)

    async def _after(self, before: asyncio.Task[None] | None, message: Received) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        try:
            await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("conversation %s: update failed; released for a retry", message.group)
            self._forget(message)
            await self._release([message])
        self._room.set()

    def _forget(self, message: Received) -> None:
        if self.held.get(message.message_id) == message:
            del self.held[message.message_id]
        self._hidden_until.pop(message.receipt, None)

    async def _handle(self, message: Received) -> None:
        try:
            data = json.loads(message.body)
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError):
            logger.error("queue: message %s is not an update; deleted", message.message_id)
        else:
            if message.receive_count > 1:
                logger.info(
                    "conversation %s: update %s received again (%d times)",
                    message.group,
                    update.update_id,
                    message.receive_count,
                )
            await self.intake.settled(lambda: self.application.process_update(update))
        try:
            await self.queue.delete(message.receipt)
        except QueueError as exc:  # it shows again later; the inbox makes that a no-op
            logger.warning("conversation %s: message not deleted (%s)", message.group, exc)
        self._forget(message)

    async def _keep_hidden(self) -> None:
        """Extend a held message's visibility once less than two thirds of it is left,
        checked every sixth of it: a slow SQS still has a third to answer in."""
        visibility = self.queue.config.visibility_timeout_s
        while True:
            await self.clock.sleep(max(0.5, visibility / 6))
            now = self.clock.monotonic()
            due = [r for r, until in self._hidden_until.items() if until - now < visibility * 2 / 3]
            lost = [r for r in due if self._hidden_until[r] <= now]
            if lost:  # another replica may receive them now: said, to be seen in the logs
                logger.error("%d in-flight message(s) showed again before extended", len(lost))
            if not due:
                continue
            try:
                failed = await self.queue.extend(due)
            except QueueError as exc:
                logger.error("visibility of %d message(s) not extended: %s", len(due), exc)
                continue
            for receipt in due:
                if receipt in self._hidden_until:
                    self._hidden_until[receipt] = now + visibility
            failed = [r for r in failed if r in self._hidden_until]  # not deleted meanwhile
            if failed:
                logger.warning("visibility of %d in-flight message(s) not extended", len(failed))

    async def _release(self, messages: list[Received]) -> None:
        if not messages:
            return
        try:
            await self.queue.extend([m.receipt for m in messages], visibility_s=0)
        except QueueError as exc:
            logger.warning("could not release %d message(s): %s", len(messages), exc)
