"""Entry point: `python telegram_bot.py [--config PATH] [--mcp-config PATH] [--console|--check]`.

Everything it does lives in src/cli/ (flags, config loading, --check, the wiring of the bot and
the console). Exit codes: 0 fine, 1 a probe or a peer failed, 2 invalid configuration.
"""

from __future__ import annotations

import sys

from src.cli import main

if __name__ == "__main__":
    sys.exit(main())
