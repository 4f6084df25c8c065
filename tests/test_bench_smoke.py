"""The benchmark suite runs end to end (CI runs this short version; no times are asserted),
and every bench script starts both as `python -m bench.<name>` and as `python bench/<name>.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import ROOT

pytestmark = pytest.mark.slow

# The scripts a person runs (bench/harness.py and bench/store_dynamodb.py are imported by them).
SCRIPTS = sorted(
    path.stem
    for path in (ROOT / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
)

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


@pytest.mark.parametrize("how", ["file", "module"])
def test_a_bench_script_runs_as_a_file_and_as_a_module(how: str, tmp_path: Path) -> None:
    smallest = ["--sizes", "10", "--appends", "2", "--loads", "2", "--no-fsync"]
    if how == "file":  # as a newcomer runs a script, from any directory
        command = [sys.executable, str(ROOT / "bench" / "store_append.py"), *smallest]
        cwd = tmp_path
    else:  # as the README says, from the repository root
        command = [sys.executable, "-m", "bench.store_append", *smallest]
        cwd = ROOT
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 10 |" in result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_bench_script_starts_as_a_file(script: str, tmp_path: Path) -> None:
    """`--help` proves its imports resolve without running the benchmark."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage:")


def run_bench(*args: str) -> str:
    """`python -m bench.<args>` from the repository root; its output (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_limits_benchmark_quick() -> None:
    out = run_bench("bench.limits", "--quick", "--backends", "file")
    assert "| file | none set |" in out and "| file | all five set |" in out


def test_scheduler_benchmark_quick() -> None:
    out = run_bench("bench.scheduler", "--quick")
    assert "| 500 |" in out  # the start-up row with entries
    assert "| on (30 messages/s) |" in out


def test_memory_benchmark_quick() -> None:
    out = run_bench("bench.memory", "--quick", "--backends", "file")
    assert "| file | 0 |" in out and "| file | 500 |" in out


def test_admin_pages_benchmark_quick() -> None:
    out = run_bench("bench.admin_pages", "--quick", "--backends", "file")
    assert "| file | conversations, page 1 |" in out and "| file | usage |" in out


def test_vision_benchmark_quick() -> None:
    out = run_bench("bench.vision", "--quick")
    assert "| 1 MB |" in out and "| 10 MB |" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if "| " in line}
    assert rows["0"].split("|")[2].strip() == "1"  # keep_turns 0: the photo's own request
    assert rows["2"].split("|")[2].strip() == "3"  # its turn and the two after it


def test_documents_benchmark_quick() -> None:
    out = run_bench("bench.documents", "--quick")
    assert "| PDF, 2 pages |" in out and "| PDF, 5 pages |" in out and "| text, 100 KB |" in out


def test_replicas_benchmark_quick() -> None:
    out = run_bench("bench.replicas", "--quick")
    assert "| 1 |" in out and "| 2 |" in out  # the throughput rows
    assert "| local inbox |" in out and "| SQS, receive_wait_s 1 |" in out
