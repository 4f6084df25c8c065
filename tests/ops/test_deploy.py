"""deploy.sh against a fake `docker` and `git` on PATH (no Docker engine runs here or in CI).

The fakes are small shell scripts written into tmp_path/bin: they append every call to a log
and keep just enough state (which image :latest is, which one runs) to answer the questions
deploy.sh asks. A container is healthy unless it runs the image FAKE_BROKEN_IMAGE names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ROOT

OLD, NEW = "sha256:old", "sha256:new"

FAKE_DOCKER = r"""#!/usr/bin/env bash
set -u
s="$FAKE_STATE"
printf 'docker %s\n' "$*" >> "$s/calls"
printf '%s\n' "$PWD" >> "$s/cwd"
case "$1" in
  image)
    case "$2" in
      inspect) [ -s "$s/latest" ] || { echo "No such image" >&2; exit 1; }; cat "$s/latest" ;;
      prune) echo "Total reclaimed space: 0B" ;;
    esac ;;
  tag)
    case "$3" in
      telegram-assistant:latest) echo "$2" > "$s/latest" ;;
      telegram-assistant:previous) echo "$2" > "$s/previous" ;;
    esac ;;
  compose)
    case "$2" in
      build)
        if [ -n "${FAKE_BUILD_FAIL:-}" ]; then echo "failed to solve" >&2; exit 1; fi
        echo "$FAKE_NEW_IMAGE" > "$s/latest" ;;
      up) cp "$s/latest" "$s/running" ;;
      ps) echo container-1 ;;
      logs) echo "bot  | the new version's last words" ;;
    esac ;;
  inspect)
    running="$(cat "$s/running")"
    if [ -n "${FAKE_ALL_BROKEN:-}" ] || [ "$running" = "${FAKE_BROKEN_IMAGE:-}" ]; then
      echo "running ${FAKE_BROKEN_HEALTH:-unhealthy}"
    else
      echo "running healthy"
    fi ;;
esac
exit 0
"""

FAKE_GIT = r"""#!/usr/bin/env bash
printf 'git %s\n' "$*" >> "$FAKE_STATE/calls"
printf '%s\n' "$PWD" >> "$FAKE_STATE/cwd"
if [ -n "${FAKE_GIT_FAIL:-}" ]; then
  echo "fatal: Not possible to fast-forward, aborting." >&2
  exit 128
fi
echo "Already up to date."
"""


@dataclass
class Deploy:
    project: Path
    state: Path
    env: dict[str, str]
    elsewhere: Path

    def run(
        self, *args: str, script: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script or self.project / "deploy.sh"), *args],
            cwd=self.elsewhere,  # never the project directory: deploy.sh must find its own
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    @property
    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    @property
    def cwds(self) -> set[str]:
        path = self.state / "cwd"
        return set(path.read_text().splitlines()) if path.exists() else set()

    def read(self, name: str) -> str | None:
        path = self.state / name
        return path.read_text().strip() if path.exists() else None

    def write(self, name: str, value: str) -> None:
        (self.state / name).write_text(value + "\n")


@pytest.fixture
def deploy(tmp_path: Path) -> Deploy:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("deploy.sh", "docker-compose.yml", ".env.example"):
        shutil.copy2(ROOT / name, project / name)
    (project / ".env").write_text("TELEGRAM_BOT_TOKEN=x\nOPENAI_API_KEY=y\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("docker", FAKE_DOCKER), ("git", FAKE_GIT)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "FAKE_STATE": str(state),
        "FAKE_NEW_IMAGE": NEW,
        "DEPLOY_POLL_INTERVAL": "0.05",
        "DEPLOY_HEALTH_TIMEOUT": "20",
    }
    result = Deploy(project, state, env, elsewhere)
    result.write("latest", OLD)  # the version running now
    result.write("running", OLD)
    return result


def test_happy_path_pulls_builds_keeps_the_previous_image_and_prunes(deploy: Deploy) -> None:
    result = deploy.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert deploy.calls == [
        "git pull --ff-only",
        "docker image inspect --format {{.Id}} telegram-assistant:latest",
        "docker compose build --pull bot",
        f"docker tag {OLD} telegram-assistant:previous",
        "docker compose up -d --no-build --remove-orphans bot",
        "docker compose ps -a -q bot",
        "docker inspect --format {{.State.Status}} "
        "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} container-1",
        "docker image prune -f --filter label=org.opencontainers.image.title=telegram-assistant",
        "docker builder prune -f --filter until=168h",
    ]
    assert deploy.cwds == {str(deploy.project)}  # every command ran in the project
    assert deploy.read("running") == NEW and deploy.read("previous") == OLD
    assert "deployed: bot is healthy" in result.stdout


def test_unhealthy_new_version_is_rolled_back(deploy: Deploy) -> None:
    result = deploy.run(FAKE_BROKEN_IMAGE=NEW)
    assert result.returncode == 1
    calls = deploy.calls
    assert calls.index(f"docker tag {OLD} telegram-assistant:latest") > calls.index(
        "docker compose up -d --no-build --remove-orphans bot"
    )
    assert calls[-1].startswith("docker inspect")  # the rollback was checked too
    assert calls.count("docker compose up -d --no-build bot") == 1
    assert not any("prune" in call for call in calls)
    assert deploy.read("running") == OLD and deploy.read("latest") == OLD
    assert "rolled back to the previous image, which is healthy" in result.stderr
    assert "last words" in result.stderr  # the failed container's log is shown


def test_health_wait_times_out_and_rolls_back(deploy: Deploy) -> None:
    result = deploy.run(
        FAKE_BROKEN_IMAGE=NEW, FAKE_BROKEN_HEALTH="starting", DEPLOY_HEALTH_TIMEOUT="1"
    )
    assert result.returncode == 1
    assert "still running (starting) after 1s" in result.stdout
    assert deploy.read("running") == OLD


def test_a_rollback_that_is_unhealthy_too_exits_3(deploy: Deploy) -> None:
    result = deploy.run(FAKE_ALL_BROKEN="1")
    assert result.returncode == 3
    assert "rollback is not healthy either" in result.stderr
    assert deploy.read("running") == OLD


def test_first_deploy_that_fails_has_nothing_to_roll_back(deploy: Deploy) -> None:
    (deploy.state / "latest").unlink()
    (deploy.state / "running").unlink()
    result = deploy.run(FAKE_BROKEN_IMAGE=NEW)
    assert result.returncode == 1
    assert "no previous image to roll back to" in result.stderr
    assert not any(call.startswith("docker tag") for call in deploy.calls)


def test_failed_build_changes_nothing(deploy: Deploy) -> None:
    result = deploy.run(FAKE_BUILD_FAIL="1")
    assert result.returncode == 1
    assert "the build failed; the running version is untouched" in result.stderr
    assert deploy.calls[-1] == "docker compose build --pull bot"
    assert deploy.read("running") == OLD


def test_failed_pull_changes_nothing(deploy: Deploy) -> None:
    result = deploy.run(FAKE_GIT_FAIL="1")
    assert result.returncode == 1
    assert deploy.calls == ["git pull --ff-only"]
    assert "nothing changed" in result.stderr


def test_no_pull_deploys_the_checkout_as_it_is(deploy: Deploy) -> None:
    result = deploy.run("--no-pull")
    assert result.returncode == 0, result.stderr
    assert not any(call.startswith("git") for call in deploy.calls)


def test_dry_run_prints_the_steps_and_runs_nothing(deploy: Deploy) -> None:
    result = deploy.run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert deploy.calls == []
    assert deploy.read("running") == OLD and deploy.read("previous") is None
    steps = [line for line in result.stdout.splitlines() if line.startswith("  would ")]
    assert steps == [
        "  would run: git pull --ff-only",
        "  would run: docker compose build --pull bot",
        "  would run: docker tag <current image id> telegram-assistant:previous",
        "  would run: docker compose up -d --no-build --remove-orphans bot",
        "  would wait up to 20s for bot to be healthy",
        "  would run: docker image prune -f --filter "
        "label=org.opencontainers.image.title=telegram-assistant",
        "  would run: docker builder prune -f --filter until=168h",
    ]
    assert "nothing changed" in result.stdout


def test_works_through_a_symlink_from_another_directory(deploy: Deploy, tmp_path: Path) -> None:
    link = tmp_path / "elsewhere" / "deploy-bot"
    link.symlink_to(deploy.project / "deploy.sh")
    result = deploy.run("--no-pull", script=link)
    assert result.returncode == 0, result.stderr
    assert deploy.cwds == {str(deploy.project)}


def test_missing_env_file_stops_before_anything_runs(deploy: Deploy) -> None:
    (deploy.project / ".env").unlink()
    result = deploy.run()
    assert result.returncode == 2
    assert "copy .env.example to .env" in result.stderr
    assert deploy.calls == []


def test_unknown_option_is_a_usage_error(deploy: Deploy) -> None:
    result = deploy.run("--force")
    assert result.returncode == 2
    assert "unknown option --force" in result.stderr and "--dry-run" in result.stderr
    assert deploy.calls == []
