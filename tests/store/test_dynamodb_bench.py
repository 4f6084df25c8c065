"""`python -m bench.store_append --backend dynalite` runs (a short version; no times asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import ROOT
from tests.peers.dynamodb import DYNALITE

pytestmark = pytest.mark.slow


def test_the_dynamodb_benchmark_prints_capacity_and_cost() -> None:
    assert DYNALITE.exists(), (
        "dynalite is not installed: run scripts/test.sh (npm ci in tests/node)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bench.store_append", "--backend", "dynalite", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| 1")]
    assert [row[1].strip() for row in rows] == ["10", "1,000"]
    for row in rows:
        # one summary update and one message per append; a turn adds the inbox record's two
        # writes (accepted, done): the same per turn at any length
        assert row[6].strip() == "2.0" and float(row[8]) == 6.0 and float(row[10]) > 0
