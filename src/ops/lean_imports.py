"""Import python-telegram-bot without its Telegram Passport crypto.

python-telegram-bot imports `cryptography`'s OpenSSL bindings at start-up whenever the package
is installed (it is, as a dependency of the MCP SDK), only to decrypt Telegram Passport data,
which this bot never asks for. That costs about 8 MB of resident memory for the process's whole
life. While `telegram` is imported, `cryptography` is hidden, so PTB sees it as absent;
afterwards it imports normally for whoever needs it (MCP's OAuth, boto3, ...).
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _HideCryptography(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == "cryptography" or fullname.startswith("cryptography."):
            raise ImportError(f"{fullname} is not needed by python-telegram-bot here")
        return None


def import_telegram_lean() -> None:
    """Import `telegram` first, with Passport crypto off. No effect if already imported."""
    if "telegram" in sys.modules:
        return
    finder = _HideCryptography()
    sys.meta_path.insert(0, finder)
    try:
        import telegram
        import telegram.ext  # noqa: F401
    finally:
        sys.meta_path.remove(finder)
