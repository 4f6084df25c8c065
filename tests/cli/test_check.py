"""`--check` (src/cli/check.py) against the local model server and a file store, and the
entry point reading the environment once for both settings files (a real process)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from src.cli.check import run_check
from src.toolservers.config import load_mcp_config
from tests.harness import ROOT, BotRunner, free_port


async def check(bots: BotRunner, mcp: dict[str, Any] | None) -> tuple[int, str]:
    config_file = bots.write_config()
    mcp_file = bots.write_mcp(mcp) or bots.tmp_path / "absent.yml"
    out = io.StringIO()
    code = await run_check(
        bots.config(), load_mcp_config(mcp_file, bots.env), str(config_file), str(mcp_file), out
    )
    return code, out.getvalue()


async def test_all_probes_pass_without_tool_servers(bots: BotRunner) -> None:
    code, report = await check(bots, None)
    assert code == 0, report
    assert "ok    model " in report and "test-model" in report
    assert "ok    store " in report
    assert "mcp:" not in report
    assert report.endswith("all checks passed\n")


async def test_a_tool_server_that_is_down_fails_the_check(bots: BotRunner) -> None:
    down = f"http://127.0.0.1:{free_port()}/mcp"
    mcp = {
        "mcpServers": {
            "down": {"url": down, "timeout": 2},
            "off": {"url": down, "disabled": True},
        },
        "tools": {"weather": {"url": "http://127.0.0.1:9/weather", "description": "Weather"}},
    }
    code, report = await check(bots, mcp)
    assert code == 1, report
    lines = report.splitlines()
    assert any(line.startswith("FAIL  mcp:down") for line in lines), report
    assert any(line.startswith("ok    mcp:off") and "disabled" in line for line in lines)
    assert any(line.startswith("ok    http tools") and "weather" in line for line in lines)
    assert "ok    model " in report  # the other probes still ran
    assert "Traceback" not in report
    assert report.endswith("some checks failed\n")


def run_check_process(
    bots: BotRunner, tmp_path: Path, mcp: dict[str, Any], extra_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tools.yml").write_text(yaml.safe_dump(mcp), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "telegram_bot.py"),
            "--check",
            "--config",
            str(bots.write_config()),
            "--mcp-config",
            "tools.yml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **bots.env, **extra_env},
    )


def test_mcp_yml_expands_from_the_process_environment(bots: BotRunner, tmp_path: Path) -> None:
    mcp = {"mcpServers": {"later": {"url": "${LATER_MCP_URL}", "disabled": True}}}
    missing = run_check_process(bots, tmp_path, mcp, {})
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "tools.yml: mcpServers.later.url: environment variable LATER_MCP_URL is not set"
    ]
    given = run_check_process(bots, tmp_path, mcp, {"LATER_MCP_URL": "http://127.0.0.1:9/mcp"})
    assert given.returncode == 0, given.stdout + given.stderr
    assert "ok    mcp:later" in given.stdout and "disabled" in given.stdout
