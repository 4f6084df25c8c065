"""Entry point: parse flags, load config, run the Telegram bot, the console, or --check.

Exit codes: 0 fine, 1 a probe or a peer failed, 2 invalid configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from src.config import Config, load_config, read_environment
from src.errors import ConfigError, ConversationError
from src.ops import event_loop
from src.ops.logging_setup import setup_logging
from src.toolservers.config import MCPFileConfig, load_mcp_config

logger = logging.getLogger("telegram_bot")

NO_TOKEN = (
    "{file}: telegram.bot_token: empty. Set TELEGRAM_BOT_TOKEN to the token @BotFather gave "
    "you (e.g. in .env), or run with --console to chat in the terminal."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A personal AI assistant on Telegram.")
    parser.add_argument("--config", help="config file (default: $CONFIG_PATH or config.yml)")
    parser.add_argument("--mcp-config", help="MCP file (default: $MCP_CONFIG_PATH or mcp.yml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--console", action="store_true", help="chat in the terminal")
    mode.add_argument("--check", action="store_true", help="check config, model and store")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        env = read_environment()
        # The console owns stdout for the conversation; its logs go to stderr.
        setup_logging(env.log_level, env.log_format, sys.stderr if args.console else None)
        config_file = args.config or env.config_path
        mcp_file = args.mcp_config or env.mcp_config_path
        config = load_config(config_file, env.variables)
        mcp = load_mcp_config(mcp_file, env.variables)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        from src.ops.check import run_check

        return event_loop.run(run_check(config, mcp, config_file, mcp_file, sys.stdout))
    if args.console:
        try:
            return event_loop.run(_console(config, mcp, config_file))
        except ConfigError as exc:  # e.g. a tool name collision found at start-up
            print(exc, file=sys.stderr)
            return 2
    if not config.telegram.bot_token.get_secret_value():
        print(NO_TOKEN.format(file=config_file), file=sys.stderr)
        return 2
    try:
        return event_loop.run(_serve(config, mcp, config_file))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


async def _console(config: Config, mcp: MCPFileConfig, config_file: str) -> int:
    from src.channels.console import run_console
    from src.runtime import open_runtime

    try:
        runtime = await open_runtime(config, mcp, config_file)
    except ConversationError as exc:
        logger.error("cannot open the conversation store: %s", exc)
        return 1
    try:
        await run_console(runtime.coordinator)
    finally:
        await runtime.close()
    return 0


async def _serve(config: Config, mcp: MCPFileConfig, config_file: str) -> int:
    from src.ops.lean_imports import import_telegram_lean

    import_telegram_lean()  # before anything else imports telegram (saves ~8 MB)
    from src.channels.telegram.service import TelegramService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = TelegramService(config, mcp, config_file)
    return await service.run(stop)


if __name__ == "__main__":
    sys.exit(main())
