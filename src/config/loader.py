"""Loading the settings files: read the YAML, expand ${VAR} and ${VAR:-default}, validate.

The only module of ours that reads the process environment: `read_environment` takes one
snapshot at start-up, and the entry point passes its `variables` to `load_config` (config.yml)
and to `load_mcp_config` (mcp.yml, src/toolservers/config.py), which both go through
`load_file`. Every problem found is one ConfigError whose text names the file and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from src.config.schema import Config
from src.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


@dataclass(frozen=True)
class Environment:
    """The process environment variables our own code cares about, and (for ${VAR} expansion
    in the settings files) a copy of all of them. `variables` holds secrets: never printed."""

    config_path: str
    mcp_config_path: str
    log_level: str
    log_format: Literal["text", "json"]
    variables: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


def read_environment(env: Mapping[str, str] | None = None) -> Environment:
    """The environment as the process sees it (or `env`, for tests), read once."""
    env = _process_environment() if env is None else dict(env)
    log_format = env.get("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in ("text", "json"):
        raise ConfigError("environment", "LOG_FORMAT", "must be 'text' or 'json'")
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("environment", "LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")
    return Environment(
        config_path=env.get("CONFIG_PATH") or "config.yml",
        mcp_config_path=env.get("MCP_CONFIG_PATH") or "mcp.yml",
        log_level=level,
        log_format="json" if log_format == "json" else "text",
        variables=env,
    )


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate config.yml. Raises ConfigError naming the file and the key.
    `env` defaults to the process environment (ADMIN_TOKEN is read from it here)."""
    env = _process_environment() if env is None else env
    return with_admin_token(load_file(path, Config, env), str(path), env)


def with_admin_token(config: Config, file: str, env: Mapping[str, str]) -> Config:
    """With `admin.enabled`, the admin page's sign-in token from ADMIN_TOKEN (a ConfigError
    naming the key when it is unset or the health server that serves the page is off)."""
    if not config.admin.enabled:
        return config
    if not config.health.enabled:
        raise ConfigError(file, "admin.enabled", "the admin page needs health.enabled: true")
    token = env.get("ADMIN_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            file, "admin.enabled", "true needs ADMIN_TOKEN in the environment (the sign-in token)"
        )
    config.admin._token = SecretStr(token)
    return config


def load_file(
    path: str | Path,
    model: type[M],
    env: Mapping[str, str],
    *,
    missing_ok: bool = False,
    prepare: Callable[[dict[Any, Any], str], dict[Any, Any]] | None = None,
) -> M:
    """One YAML settings file, its ${VAR}s expanded from `env`, validated into `model`.

    missing_ok: a file that does not exist gives the model's defaults. prepare(raw, file)
    checks and normalises the top-level mapping as written, before expansion."""
    file = str(path)
    if missing_ok and not Path(path).exists():
        return validate_model(model, {}, file)
    raw = load_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(file, "", "the top level must be a mapping")
    if prepare is not None:
        raw = prepare(raw, file)
    return validate_model(model, expand_env(raw, file, env), file)


def expand_env(value: Any, file: str, env: Mapping[str, str], path: str = "") -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {k: expand_env(v, file, env, _join(path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, file, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        raise ConfigError(file, path, f"environment variable {name} is not set")

    return _VAR.sub(substitute, value)


def load_yaml(path: str | Path) -> Any:
    """The parsed YAML of one file; a missing, unreadable or malformed file is a ConfigError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read file ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(file, where, str(problem)) from None


def validate_model(model: type[M], data: Any, file: str) -> M:
    """`model` from `data`; the first validation error becomes one ConfigError line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(file, key, _describe(first)) from None


def _process_environment() -> dict[str, str]:
    """The one read of `os.environ` in our code (DESIGN.md, "Environment")."""
    return dict(os.environ)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown key"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
