"""The bot imports python-telegram-bot without Passport crypto, and nothing else breaks."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import ROOT

SCRIPT = """
import sys
from src.ops.lean_imports import import_telegram_lean
import_telegram_lean()
assert "telegram.ext" in sys.modules
assert not any(name.split(".")[0] == "cryptography" for name in sys.modules), "crypto loaded"
import telegram._passport.credentials as credentials
assert credentials.CRYPTO_INSTALLED is False
import cryptography.hazmat.backends  # still importable for whoever needs it
import_telegram_lean()  # a second call changes nothing
print("ok")
"""


def test_telegram_is_imported_without_passport_crypto() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


ADMIN_OFF = """
import sys
from src.cli.main import main
from src.channels.telegram.service import TelegramService
from src.ops.health import HealthServer
assert "jinja2" not in sys.modules, "jinja2 loaded without the admin page"
assert not any(name.startswith("src.admin") for name in sys.modules)
print("ok")
"""


def test_jinja2_is_not_imported_while_the_page_is_off() -> None:
    result = subprocess.run(
        [sys.executable, "-c", ADMIN_OFF], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


ADMIN_ON_UNUSED = """
import sys
from src.admin.app import AdminSite
assert "jinja2" not in sys.modules, "jinja2 loaded before the first page view"
print("ok")
"""


def test_jinja2_waits_for_the_first_page_view() -> None:
    result = subprocess.run(
        [sys.executable, "-c", ADMIN_ON_UNUSED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_document_libraries_wait_for_the_first_document() -> None:
    script = (
        "import sys\n"
        "import src.channels.telegram.service, src.runtime, src.documents.reader\n"
        "loaded = {'pypdf', 'docx', 'lxml'} & {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
