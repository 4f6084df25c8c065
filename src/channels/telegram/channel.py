"""The Telegram channel, put together: the one place that builds its parts and runs them.

poller (poller.py) -> batching.py -> PTB application -> handlers.py (thin)
    -> access.py (who may talk) -> intake.py (stored in the inbox, queued in a lane)
    -> lanes (src/channels/lanes.py) -> worker.py -> turns.py (one turn, its failures)
"""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.ext import Application

from src.access import Access
from src.agents.access_commands import ADMIN_COMMANDS
from src.agents.audit_commands import AUDIT_COMMANDS
from src.agents.coordinator import Coordinator
from src.channels.lanes import ChatLanes
from src.channels.telegram import handlers
from src.channels.telegram.access import RefusalThrottle
from src.channels.telegram.albums import Albums
from src.channels.telegram.approvals import TelegramApprover
from src.channels.telegram.attachments import Attachments
from src.channels.telegram.batching import batch_processor
from src.channels.telegram.documents import TelegramDocuments
from src.channels.telegram.intake import Intake, LaneItem, Scheduled
from src.channels.telegram.photos import TelegramImages
from src.channels.telegram.poller import Poller
from src.channels.telegram.reminders import Reminders
from src.channels.telegram.sender import Sender
from src.channels.telegram.turns import TurnRunner
from src.channels.telegram.voice import TelegramVoice
from src.channels.telegram.worker import LaneWorker
from src.config import Config
from src.scheduler.entries import Entry
from src.scheduler.runner import Scheduler

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 7.0
APPROVAL_POLL_S = 2.0  # replicas: how often a turn waiting for a press reads the store


class TelegramChannel:
    def __init__(
        self,
        config: Config,
        coordinator: Coordinator,
        application: Application,
        access: Access,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.config = config
        self.coordinator = coordinator
        self.application = application
        self.access = access  # the runtime's: a command's change is seen here at once
        self.inbox = coordinator.storage.inbox
        self.sender = Sender(application.bot)
        self.voice = TelegramVoice.create(config, application.bot, self.sender)
        self.photos = (
            TelegramImages(application.bot, config.vision) if config.vision.enabled else None
        )
        coordinator.images = self.photos  # stored image references become data URLs here
        documents = (
            TelegramDocuments(application.bot, config.documents)
            if config.documents.enabled
            else None
        )
        attachments = Attachments(self.sender, self.photos, documents)
        turns = TurnRunner(config, coordinator, self.sender, self.voice, attachments)
        self.scheduler = scheduler
        self.reminders = (
            Reminders(scheduler, access, self.sender, turns) if scheduler is not None else None
        )
        runner = coordinator.tool_runner  # tools that ask first ask here (src/approval/)
        self.approvals = TelegramApprover(
            runner.pending,
            coordinator.storage.records,
            access,
            self.sender,
            config.approval.timeout_s,
            runner.clock,
            poll_s=APPROVAL_POLL_S if config.queue.type == "sqs" else None,
        )
        runner.approver = self.approvals
        self._stop_scheduler = asyncio.Event()
        self._scheduling: asyncio.Task[None] | None = None
        worker = LaneWorker(coordinator, self.inbox, self.sender, turns, self.reminders)
        self.lanes: ChatLanes[LaneItem] = ChatLanes(worker, config.telegram.max_concurrent_turns)
        # A shared queue redelivers what a replica left unanswered (consumer.py); the local
        # inbox is recovered at start-up instead. In webhook mode an update is also owed again
        # when its POST timed out after the store took it (Telegram retries, webhook.py).
        # With the shared queue an album's parts are turns of their own: holding one in
        # memory would let its queue message be deleted before it is answered.
        self.shared_queue = config.queue.type == "sqs"
        resume = self.shared_queue or config.telegram.mode == "webhook"
        albums = Albums(self.lanes.submit, runner.clock)
        self.intake = Intake(
            self.inbox,
            self.lanes,
            albums=albums,
            resume_owed=resume,
            group_albums=not self.shared_queue,
        )
        self.poller = Poller(
            application.bot, batch_processor(application), config.telegram.poll_timeout_s
        )
        front = handlers.Front(
            access=self.access,
            intake=self.intake,
            refusals=RefusalThrottle(),
            group_mode=config.telegram.group_mode,
            voice_enabled=config.voice.enabled,
            vision_enabled=config.vision.enabled,
            max_image_mb=config.vision.max_image_mb,
            documents_enabled=config.documents.enabled,
            reminders=self.reminders,
            approvals=self.approvals,
        )
        handlers.register(application, front, coordinator.commands())

    async def start(self) -> None:
        """Announce the commands and queue every turn a previous run left unanswered."""
        await self.announce_commands()
        await self.coordinator.tool_runner.sweep()  # questions that ran out while it was down
        await self.recover()
        if self.scheduler is not None:  # entries due while the bot was down go out now
            run = self.scheduler.run(self.deliver, self._stop_scheduler)
            self._scheduling = asyncio.create_task(run, name="scheduler")

    async def deliver(self, entry: Entry, late: bool) -> str:
        """The scheduler's hand-over: a due entry waits its turn in its conversation's lane
        (never interleaved with a running turn there) and is sent from it."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.lanes.submit(entry.conversation_id, Scheduled(entry, late, done))
        return await done

    async def announce_commands(self) -> None:
        """setMyCommands: the public menu for everyone; in each admin's private chat, the
        menu with the admin commands too."""
        menu = {**handlers.COMMANDS, **self.coordinator.commands()}
        if self.reminders is not None:
            menu.update(handlers.SCHEDULER_COMMANDS)
        admin_only = {**ADMIN_COMMANDS, **AUDIT_COMMANDS}
        public = [BotCommand(name, text) for name, text in menu.items() if name not in admin_only]
        full = [BotCommand(name, text) for name, text in menu.items()]
        bot = self.application.bot
        try:
            await bot.set_my_commands(public)
            for admin in self.access.admins():
                await bot.set_my_commands(full, scope=BotCommandScopeChat(admin))
        except Exception as exc:
            logger.warning("setMyCommands failed: %s", exc)

    async def recover(self) -> int:
        """Queue what the last run accepted but did not answer. Returns how many items.
        Not with a shared queue: another replica may be answering those right now."""
        if self.shared_queue:
            return 0
        return await self.intake.recover()

    async def stop(self) -> None:
        """Stop polling, let running turns finish (or abandon them cleanly), confirm offset."""
        self.poller.stop()
        self._stop_scheduler.set()
        if self._scheduling is not None:  # a delivery in flight stays claimed: sent next start
            self._scheduling.cancel()
            await asyncio.gather(self._scheduling, return_exceptions=True)
        self.intake.albums.close()  # albums still gathering are in the inbox for the restart
        self.approvals.close()  # turns waiting for an answer resume after the restart
        cancelled = await self.lanes.close(SHUTDOWN_GRACE_S)
        if cancelled:
            logger.warning("%d turn(s) cut off by shutdown; they resume on restart", cancelled)
        await self.poller.confirm()
        if self.voice is not None:
            await self.voice.service.aclose()
