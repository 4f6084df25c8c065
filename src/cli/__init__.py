"""The command line (DESIGN.md "Command line"): flags, loading both settings files once,
`--check`, and the wiring that starts the Telegram bot or the console. telegram_bot.py only
calls `main`.

The top of the house: modules here may import anything below (store, tool servers, runtime,
channels); nothing below imports from here.
"""

from __future__ import annotations

from src.cli.main import main

__all__ = ["main"]
