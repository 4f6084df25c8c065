"""The bot started the way its image starts it, without a Docker engine (none runs here or in
CI): exactly the files the Dockerfile's final stage COPYs (after .dockerignore), the operator's
config.yml where compose mounts it, the image's environment, a read-only code directory, a
writable data directory behind the image's `/app/data -> /data` link, and the image's fixed
non-root uid when the test runs as root: `setpriv --reuid/--regid --clear-groups` (util-linux)
switches to the Dockerfile's USER uid:gid, which needs no passwd entry, so no test user is
created. (subprocess's own `user=` cannot start an interpreter that lives under /root, as
pyenv's does on the development machines.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.harness import OWNER, ROOT, free_port
from tests.peers.openai_server import FakeOpenAI
from tests.peers.serve import wait_until_sync
from tests.peers.telegram_server import FakeTelegram

pytestmark = pytest.mark.slow

BOT_TOKEN = "55555:container-test-token"
API_KEY = "sk-container-test-key"


@dataclass
class Image:
    """What the Dockerfile's final stage says about running the bot."""

    workdir: str
    user: tuple[int, int]
    env: dict[str, str]
    copies: list[tuple[list[str], str]]  # (sources in the build context, destination)
    healthcheck: list[str]
    cmd: list[str]
    runs: str = field(default="")


def read_image() -> Image:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    instructions = parser.structure
    start = max(i for i, item in enumerate(instructions) if item["instruction"] == "FROM")
    workdir, user, copies, runs = "/", (0, 0), [], []
    healthcheck: list[str] = []
    cmd: list[str] = []
    for item in instructions[start:]:
        kind, value = item["instruction"], item["value"]
        if kind == "WORKDIR":
            workdir = value
        elif kind == "USER":
            uid, _, gid = value.partition(":")
            user = (int(uid), int(gid or uid))
        elif kind == "COPY" and "--from=" not in value:
            words = [w for w in value.split() if not w.startswith("--")]
            copies.append((words[:-1], words[-1]))
        elif kind == "RUN":
            runs.append(value)
        elif kind == "HEALTHCHECK":
            healthcheck = json.loads(value[value.index("CMD") + 3 :])
        elif kind == "CMD":
            cmd = json.loads(value)
    return Image(workdir, user, dict(parser.envs), copies, healthcheck, cmd, " ".join(runs))


def build_context() -> set[str]:
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return set(exclude_paths(str(ROOT), patterns))


def install_files(image: Image, app: Path) -> list[str]:
    """Copy what the final stage copies into `app` (the image's WORKDIR); returns the paths."""
    context = build_context()
    installed = []
    for sources, destination in image.copies:
        target = app / destination.removeprefix(image.workdir).lstrip("/")
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                prefix = source.rstrip("/") + "/"
                files = [f for f in context if f.startswith(prefix) and (ROOT / f).is_file()]
                pairs = [(f, target / f[len(prefix) :]) for f in files]
            else:
                assert source in context, f"{source} is COPYed but .dockerignore drops it"
                pairs = [(source, target / path.name if destination.endswith("/") else target)]
            for name, where in pairs:
                where.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / name, where)
                installed.append(str(where.relative_to(app)))
    return sorted(installed)


def make_read_only(root: Path) -> None:
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        if path.is_symlink():
            continue
        mode = 0o555 if path.is_dir() else 0o444
        path.chmod(mode)


@dataclass
class Container:
    root: Path
    app: Path
    data: Path
    log: Path
    image: Image
    health_port: int
    launcher: list[str]  # prefix that runs a command as the image's user ([] if not root)
    uid: int | None

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def container(telegram: FakeTelegram) -> Iterator[Container]:
    image = read_image()
    # Outside pytest's tmp_path: that one is private to root, and the bot runs as another user.
    root = Path(tempfile.mkdtemp(prefix="assistant-image-"))
    root.chmod(0o755)
    app, data = root / "app", root / "data"
    app.mkdir()
    data.mkdir()
    try:
        installed = install_files(image, app)
        assert "telegram_bot.py" in installed and "src/config/__init__.py" in installed
        assert not any("__pycache__" in name or name.startswith("tests/") for name in installed)
        # The operator's config.yml, which compose mounts over /app/config.yml.
        operator = yaml.safe_load((ROOT / "config.yml").read_text())
        operator["telegram"]["allowed_user_ids"] = [OWNER]
        operator["telegram"]["poll_timeout_s"] = 5
        health_port = free_port()
        operator["health"]["port"] = health_port
        (app / "config.yml").write_text(yaml.safe_dump(operator))
        # RUN ... ln -s /data /app/data, and /data/conversations owned by the image's user.
        assert "ln -s /data /app/data" in image.runs
        (app / "data").symlink_to(data)
        (data / "conversations").mkdir()
        launcher: list[str] = []
        uid: int | None = None
        if os.geteuid() == 0:
            uid, gid = image.user
            assert uid != 0, "the image runs as a non-root user"
            for path in [data, *data.rglob("*")]:
                os.chown(path, uid, gid)
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.fail("setpriv is missing: apt-get install util-linux")
            launcher = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        make_read_only(app)
        if not _can_run(launcher) and launcher:
            # The interpreter or the virtualenv sits in a directory only root may enter (a
            # checkout under a private home). Let the user read (not write) everything, as
            # the image's user reads the root-owned /opt/venv and /app.
            launcher += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        if not _can_run(launcher):
            pytest.fail(f"uid {uid} cannot run {sys.executable} with its packages")
        yield Container(root, app, data, root / "bot.log", image, health_port, launcher, uid)
    finally:
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(stat.S_IRWXU | (0o755 if path.is_dir() else 0o644))
        shutil.rmtree(root, ignore_errors=True)


def _can_run(launcher: list[str]) -> bool:
    check = [*launcher, sys.executable, "-c", "import telegram, openai, aiohttp"]
    return subprocess.run(check, capture_output=True, timeout=60).returncode == 0


def image_env(container: Container, telegram: FakeTelegram, model: FakeOpenAI) -> dict[str, str]:
    """The image's ENV with /app and /data pointing at the copies, plus what .env would hold."""

    def mapped(value: str) -> str:
        for inside, outside in (("/app", container.app), ("/data", container.data)):
            if value == inside or value.startswith(inside + "/"):
                return str(outside) + value[len(inside) :]
        return value

    env = {key: mapped(value) for key, value in container.image.env.items() if key != "PATH"}
    env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        TELEGRAM_BOT_TOKEN=telegram.token,
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=model.base_url,
        TELEGRAM_API_BASE_URL=telegram.url,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
    )
    return env


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=BOT_TOKEN) as server:
        yield server


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=API_KEY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def run_healthcheck(container: Container) -> int:
    """The image's HEALTHCHECK command, pointed at this bot's port."""
    command = [
        part.replace(":8080/", f":{container.health_port}/") for part in container.image.healthcheck
    ]
    assert command[0] == "python"
    result = subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30)
    return result.returncode


def test_the_bot_runs_as_its_image_runs_it(
    container: Container, telegram: FakeTelegram, model: FakeOpenAI
) -> None:
    assert container.image.cmd == ["python", "telegram_bot.py"]
    env = image_env(container, telegram, model)
    assert env["HEALTH_HOST"] == "0.0.0.0"
    assert env["CONFIG_PATH"] == str(container.app / "config.yml")
    with container.log.open("wb") as log:
        process = subprocess.Popen(
            [*container.launcher, sys.executable, *container.image.cmd[1:]],
            cwd=container.app,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_sync(
            lambda: bool(telegram.get_updates_calls()) or process.poll() is not None,
            timeout=30,
            message="the bot never polled",
        )
        assert process.poll() is None, container.logs()
        url = f"http://127.0.0.1:{container.health_port}"
        wait_until_sync(lambda: get(f"{url}/healthz")[0] == 200, timeout=15)
        status, body = get(f"{url}/healthz")
        assert status == 200 and json.loads(body)["ok"] is True
        assert run_healthcheck(container) == 0

        telegram.push_message(OWNER, "hello from the container")
        sent = telegram.wait_for_messages_sync(OWNER, 1, timeout=20)
        assert sent[0]["text"] == "echo: hello from the container"
        stored = list((container.data / "conversations").glob("*.jsonl"))
        assert len(stored) == 1
        if container.uid is not None:
            assert stored[0].stat().st_uid == container.uid
        status, metrics = get(f"{url}/metrics")
        assert status == 200 and b"assistant_store_operation_duration_seconds" in metrics

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert run_healthcheck(container) != 0  # nothing answers now: unhealthy
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    output = container.logs()
    lines = output.splitlines()
    assert lines, "the bot logged nothing"
    for line in lines:  # LOG_FORMAT=json: one JSON object per line, nothing else on stdout
        record = json.loads(line)
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    assert "polling for updates" in output
    for secret in (BOT_TOKEN, API_KEY):
        assert secret not in output
    # Nothing was written next to the code (it is read-only: a write would have failed).
    assert not any(p.name == "__pycache__" for p in container.app.rglob("*")), "bytecode written"


def test_the_admin_pages_templates_and_style_sheet_are_in_the_image(tmp_path: Path) -> None:
    """Package data (src/admin/templates, src/admin/static) passes .dockerignore and the
    Dockerfile's COPY, or the admin page would fail only in production."""
    installed = set(install_files(read_image(), tmp_path))
    package = ROOT / "src" / "admin"
    data = [
        str(path.relative_to(ROOT))
        for folder in ("templates", "static")
        for path in (package / folder).rglob("*")
        if path.is_file()
    ]
    assert len(data) >= 10 and "src/admin/static/admin.css" in data
    assert [name for name in data if name not in installed] == []
