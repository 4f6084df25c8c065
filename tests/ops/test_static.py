"""Static checks of the deployment files (hadolint, shellcheck, the Compose Specification
schema, and the properties issue 8 asks of each file) and of the source tree: every module says
what it holds, only the config loader reads the environment, nothing imports the entry point's
package from below, and `import mcp` is the MCP SDK.

No Docker engine runs on the development machines or in CI, so nothing here builds or runs an
image; tests/ops/test_container.py starts the bot the way the image does instead.

tests/ops/compose-spec.json is the Compose Specification schema as vendored by check-jsonschema
0.39.0 (check_jsonschema/builtin_schemas/vendor/compose-spec.json, from the compose-spec
project); tests cannot reach the internet, so it lives in the repository.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.harness import ROOT

SCHEMA = Path(__file__).with_name("compose-spec.json")
BIN = Path(sys.executable).parent

# Every variable DESIGN.md's contract names ("Environment"), plus the ones README adds.
DESIGN_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TELEGRAM_API_BASE_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "CONFIG_PATH",
    "MCP_CONFIG_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HEALTH_HOST",
    "ADMIN_TOKEN",
)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: run scripts/test.sh (requirements-dev.txt pins it)")
    return str(path)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=60)


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def final_stage() -> list[dict[str, Any]]:
    """The instructions of the Dockerfile's last stage."""
    instructions = DockerfileParser(str(ROOT / "Dockerfile")).structure
    starts = [i for i, item in enumerate(instructions) if item["instruction"] == "FROM"]
    return instructions[starts[-1] :]


# -- the linters, and proof that they fail on bad input -------------------------------------


def test_hadolint_passes_the_dockerfile() -> None:
    result = run(tool("hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install -y ffmpeg\nRUN cd /app\n")
    result = run(tool("hadolint"), str(bad))
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged image
    assert "DL3009" in result.stdout or "DL3015" in result.stdout  # apt hygiene


def test_shellcheck_passes_deploy_sh() -> None:
    result = run(tool("shellcheck"), "deploy.sh")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_rejects_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    result = run(tool("shellcheck"), str(bad))
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_compose_file_matches_the_compose_specification() -> None:
    result = run(tool("check-jsonschema"), "--schemafile", str(SCHEMA), "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["bot"]["restart_policy"] = "always"  # not a service key
    broken["services"]["bot"]["read_only"] = "yes please"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = run(tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(path))
    assert result.returncode != 0
    assert "restart_policy" in result.stdout + result.stderr


# -- what issue 8 asks of each file -----------------------------------------------------------


def test_dockerfile_builds_a_small_non_root_image() -> None:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    text = parser.content
    stages = [i["value"] for i in parser.structure if i["instruction"] == "FROM"]
    assert len(stages) >= 2, "multi-stage"
    assert re.search(r"python:3\.12-slim", text)
    final = final_stage()
    runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    assert "ffmpeg" in runs and "--no-install-recommends" in runs
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", runs), "no compilers"
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert 'if [ "$WITH_NODE" = "true" ]' in runs and "nodejs" in runs
    assert any(i["instruction"] == "ARG" and i["value"].startswith("WITH_NODE") for i in final)
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users == ["10001:10001"], "a fixed non-root uid"
    assert "--uid 10001" in runs
    assert any(i["instruction"] == "VOLUME" and "/data" in i["value"] for i in final)
    assert "ln -s /data /app/data" in runs  # config.yml's ./data/... lands on the volume
    (check,) = [i["value"] for i in final if i["instruction"] == "HEALTHCHECK"]
    assert "/healthz" in check
    assert "-r requirements.txt" in text and "--only-binary=:all:" in text


def test_requirements_are_pinned() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[^=\s;]+(\s*;.*)?$", line), line


def test_dockerignore_keeps_secrets_and_data_out_of_the_build_context(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = tmp_path / "context"
    for name in (
        ".env",
        "data/conversations/1.jsonl",
        ".git/config",
        "tests/conftest.py",
        ".venv/bin/python",
        "src/__pycache__/x.pyc",
        "src/app.py",
        "telegram_bot.py",
        "config.yml",
        "mcp.yml",
        "requirements.txt",
        "Dockerfile",
        "notes.txt",
    ):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("x")
    sent = exclude_paths(str(context), patterns)
    assert {"src/app.py", "telegram_bot.py", "config.yml", "mcp.yml", "requirements.txt"} <= sent
    for secret in (
        ".env",
        "data/conversations/1.jsonl",
        ".git/config",
        "tests/conftest.py",
        ".venv/bin/python",
        "src/__pycache__/x.pyc",
        "notes.txt",
    ):
        assert secret not in sent


def test_compose_runs_the_bot_locked_down() -> None:
    data = compose()
    assert "version" not in data, "Compose Specification: no version key"
    bot = data["services"]["bot"]
    assert bot["restart"] == "unless-stopped"
    assert bot["env_file"] in (".env", [".env"])
    assert bot["environment"]["HEALTH_HOST"] == "0.0.0.0"
    assert "data:/data" in bot["volumes"] and "data" in data["volumes"]
    assert bot["read_only"] is True
    assert any(str(t).startswith("/tmp") for t in bot["tmpfs"])
    assert bot["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in bot["security_opt"]
    assert bot["mem_limit"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["logging"]["driver"] == "json-file"
    assert {"max-size", "max-file"} <= set(bot["logging"]["options"])
    for port in bot["ports"]:
        assert str(port).startswith("127.0.0.1:"), "published on the host's loopback only"
    assert bot["image"] == "telegram-assistant:latest"  # deploy.sh's IMAGE
    deploy = (ROOT / "deploy.sh").read_text()
    assert 'IMAGE="telegram-assistant"' in deploy
    text = (ROOT / "docker-compose.yml").read_text()
    assert "#     awslogs-group" in text or "driver: awslogs" in text
    assert "# mcp-everything:" in text


def test_env_example_names_every_variable() -> None:
    text = (ROOT / ".env.example").read_text()
    for name in DESIGN_VARIABLES:
        assert re.search(rf"^(# )?{name}=", text, re.MULTILINE), name
    # Nothing secret is filled in.
    for name in ("TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY"):
        assert re.search(rf"^{name}=$", text, re.MULTILINE), name


def test_variables_the_settings_files_use_are_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    for name in ("config.yml", "mcp.yml"):
        active = [
            line.split("#", 1)[0] for line in (ROOT / name).read_text(encoding="utf-8").splitlines()
        ]
        for variable in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", "\n".join(active))):
            assert re.search(rf"^(# )?{variable}=", text, re.MULTILINE), f"{name}: {variable}"


def test_compose_interpolation_variables_are_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    for name in used:
        assert re.search(rf"^(# )?{name}=", text, re.MULTILINE), name


# -- the source tree ------------------------------------------------------------------------


def python_files(*tops: str) -> list[Path]:
    found: list[Path] = []
    for top in tops:
        path = ROOT / top
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [path for path in found if "__pycache__" not in path.parts]


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_module_says_what_it_holds() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in python_files("src", "bench", "telegram_bot.py")
        if not (ast.get_docstring(parsed(path)) or "").strip()
    ]
    assert not missing, f"modules without a docstring: {missing}"


def test_only_the_config_loader_reads_the_environment() -> None:
    """DESIGN.md "Environment": our code reads variables only through src/config/loader.py,
    which passes them down (libraries such as boto3 and openai read their own)."""
    loader = ROOT / "src" / "config" / "loader.py"
    readers: list[str] = []
    for path in python_files("src", "telegram_bot.py"):
        for node in ast.walk(parsed(path)):
            reads = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in ("environ", "environb", "getenv", "getenvb")
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in ("environ", "environb", "getenv") for a in node.names)
            )
            if reads and path != loader:
                readers.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert not readers, f"reads the environment itself: {readers}"


def test_the_settings_are_loaded_in_one_place_and_passed_down() -> None:
    loaders = {"load_config", "load_mcp_config", "read_environment"}
    entry = ROOT / "src" / "cli" / "main.py"
    callers: list[str] = []
    for path in python_files("src"):
        if path == entry or path.parent == ROOT / "src" / "config":
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in loaders:
                    callers.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not callers, f"only src/cli/main.py loads the settings: {callers}"


def test_the_command_line_package_is_the_top_of_the_house() -> None:
    """src/cli/ (flags, --check, wiring) may import anything; nothing in src/ imports it, and
    the probes and the wiring stay out of the lower layers."""
    upward: list[str] = []
    for path in python_files("src"):
        relative = path.relative_to(ROOT)
        if relative.parts[1] == "cli":
            continue
        imports = imported_modules(parsed(path))
        if any(name == "src.cli" or name.startswith("src.cli.") for name in imports):
            upward.append(f"{relative}: imports src.cli")
        if (
            relative.parts[1] in ("ops", "toolservers", "store", "config")
            and "src.runtime" in imports
        ):
            upward.append(f"{relative}: imports src.runtime")
    assert not upward, upward
    assert not (ROOT / "src" / "ops" / "check.py").exists()
    assert not (ROOT / "src" / "toolservers" / "check.py").exists()
    shim = parsed(ROOT / "telegram_bot.py")
    assert imported_modules(shim) <= {
        "__future__",
        "__future__.annotations",
        "sys",
        "src.cli",
        "src.cli.main",
    }


def test_import_mcp_is_the_sdk_from_the_repository_root() -> None:
    """Nothing of ours is named `mcp` (src/toolservers/ was src/mcp/), whether the bot runs as
    `python telegram_bot.py` (the root first on sys.path) or the tests import it."""
    code = "import mcp, sys; print(mcp.__file__); print(hasattr(mcp, 'ClientSession'))"
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    location, has_client = result.stdout.split()
    assert "site-packages" in Path(location).resolve().parts, location
    assert has_client == "True"
    assert not (ROOT / "mcp").exists() and not (ROOT / "mcp.py").exists()
    for top in ("src", "tests", "bench"):  # a leftover __pycache__ alone imports nothing
        assert not list((ROOT / top / "mcp").glob("*.py")), f"{top}/mcp"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r"known-third-party\s*=.*mcp", pyproject)
