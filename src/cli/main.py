"""`main(argv)`: parse the flags, read the environment and both settings files once, then run
the bot, the console or `--check`.

Exit codes: 0 fine, 1 a probe or a peer failed, 2 invalid configuration (one line on stderr,
never a traceback).
"""

from __future__ import annotations

import argparse
import sys

from src.config import load_config, read_environment
from src.errors import ConfigError
from src.ops import event_loop
from src.ops.logging_setup import setup_logging
from src.toolservers.config import load_mcp_config

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
        from src.cli.check import run_check

        return event_loop.run(run_check(config, mcp, config_file, mcp_file, sys.stdout))
    if not args.console and not config.telegram.bot_token.get_secret_value():
        print(NO_TOKEN.format(file=config_file), file=sys.stderr)
        return 2
    from src.cli.run import run_console, run_telegram

    try:
        if args.console:
            return event_loop.run(run_console(config, mcp, config_file))
        return event_loop.run(run_telegram(config, mcp, config_file))
    except ConfigError as exc:  # e.g. a tool name collision found at start-up
        print(exc, file=sys.stderr)
        return 2
