"""The wiring of the two long-running modes: the Telegram bot (with signal handling) and the
console, each on a runtime built from the loaded config."""

from __future__ import annotations

import asyncio
import logging
import signal

from src.config import Config
from src.errors import ConversationError
from src.toolservers.config import MCPFileConfig

logger = logging.getLogger(__name__)


async def run_console(config: Config, mcp: MCPFileConfig, config_file: str) -> int:
    """Chat with the Coordinator over stdin/stdout until end of input."""
    from src.channels.console import run_console as console
    from src.runtime import open_runtime

    try:
        runtime = await open_runtime(config, mcp, config_file)
    except ConversationError as exc:
        logger.error("cannot open the conversation store: %s", exc)
        return 1
    try:
        await console(runtime.coordinator)
    finally:
        await runtime.close()
    return 0


async def run_telegram(config: Config, mcp: MCPFileConfig, config_file: str) -> int:
    """Run the bot until SIGTERM or SIGINT, then stop it cleanly."""
    from src.ops.lean_imports import import_telegram_lean

    import_telegram_lean()  # before anything else imports telegram (saves ~8 MB)
    from src.channels.telegram.service import TelegramService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = TelegramService(config, mcp, config_file)
    return await service.run(stop)
