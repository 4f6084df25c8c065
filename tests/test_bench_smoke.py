"""The benchmark suite runs end to end (CI runs this short version; no times are asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import ROOT

pytestmark = pytest.mark.slow

SECTIONS = ("## Overhead", "## Concurrency", "## Long chats", "## Memory", "## Start-up")


def test_quick_benchmark_suite_prints_every_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for section in SECTIONS:
        assert section in result.stdout
    assert "| 10 |" in result.stdout  # the 10-chat concurrency row
    row = [line for line in result.stdout.splitlines() if line.startswith("| 10 |")]
    assert row, result.stdout
    cells = [cell.strip() for cell in row[0].split("|")]
    assert cells[5] == "0"  # nothing lost
    assert cells[8] == "0"  # no chat's replies out of order


def test_store_benchmark_quick() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.store_append", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 10 |" in result.stdout
