"""The admin page's settings: off by default, ADMIN_TOKEN required when on (exit 2 with one
line naming the key), read only through the config loader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.config import ConfigError, load_config
from tests.admin.client import TOKEN
from tests.harness import ROOT, BotRunner


def _run(bots: BotRunner, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    config = bots.write_config(admin={"enabled": True})
    return subprocess.run(
        [sys.executable, str(ROOT / "telegram_bot.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **bots.env, **env},
    )


def test_enabled_without_admin_token_stops_start_up_with_one_line(
    bots: BotRunner, tmp_path: Path
) -> None:
    result = _run(bots, tmp_path, {})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{tmp_path / 'config.yml'}: admin.enabled: true needs ADMIN_TOKEN in the environment "
        "(the sign-in token)"
    ]
    assert result.stdout == ""


def test_the_token_comes_from_the_environment_only(bots: BotRunner) -> None:
    assert bots.config().admin.enabled is False  # the default: off, no token needed
    with pytest.raises(ConfigError) as error:
        load_config(bots.write_config(admin={"enabled": True}), env={**bots.env})
    assert error.value.key == "admin.enabled"
    with pytest.raises(ConfigError) as error:  # blank counts as unset
        load_config(bots.write_config(admin={"enabled": True}), {**bots.env, "ADMIN_TOKEN": " "})
    assert error.value.key == "admin.enabled"
    with pytest.raises(ConfigError) as error:  # not a YAML key: a secret never lives there
        load_config(bots.write_config(admin={"enabled": True, "token": TOKEN}), env=bots.env)
    assert (error.value.key, error.value.message) == ("admin.token", "unknown key")
    with pytest.raises(ConfigError) as error:
        load_config(
            bots.write_config(admin={"enabled": True}, health={"enabled": False}),
            {**bots.env, "ADMIN_TOKEN": TOKEN},
        )
    assert error.value.key == "admin.enabled" and "health.enabled" in error.value.message

    config = load_config(
        bots.write_config(admin={"enabled": True}), {**bots.env, "ADMIN_TOKEN": TOKEN}
    )
    assert config.admin.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(config) and TOKEN not in str(config.admin)


@pytest.mark.parametrize("path", ["admin", "/admin/", "/ad min", "/../x", "/"])
def test_a_path_that_is_not_a_plain_path_is_refused(bots: BotRunner, path: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(bots.write_config(admin={"path": path}), env=bots.env)
    assert error.value.key == "admin.path"
