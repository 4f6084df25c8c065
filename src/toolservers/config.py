"""mcp.yml: MCP servers (Streamable HTTP or stdio) and plain HTTP tools, validated."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from src.config.loader import load_file
from src.errors import ConfigError

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TRANSPORTS = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamableHttp": "http",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


CONFIRM_VALUES = "use true, false, destructive or a list of globs over the server's tool names"


class ToolFilter(_Strict):
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)


class MCPServerConfig(_Strict):
    # YAML turns `args: [--port, 3000]` into a number; a pasted block means the string.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    type: str | None = None  # optional, as pasted blocks carry it: stdio | http | streamable-http
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout: float = Field(30, gt=0)
    max_result_chars: int | None = Field(None, ge=100)
    disabled: bool = False
    tools: ToolFilter = ToolFilter()
    # Ask the user before a tool runs (src/approval/): true (every tool), destructive (the
    # tools the server marks destructiveHint and not readOnlyHint), or globs over the
    # server's own tool names. `requires_auth: true` is another spelling of `confirm: true`.
    confirm: bool | Literal["destructive"] | list[str] = False
    requires_auth: bool = False

    @field_validator("confirm", mode="before")
    @classmethod
    def _confirm_value(cls, value: Any) -> Any:
        if isinstance(value, bool) or value == "destructive":
            return value
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return value
        raise ValueError(CONFIRM_VALUES)

    @field_validator("type")
    @classmethod
    def _known_transport(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() == "sse":
            raise ValueError(
                "the SSE transport is not supported: use the server's Streamable HTTP url"
            )
        if value not in _TRANSPORTS:
            raise ValueError(f"unknown transport {value!r} (use stdio or http)")
        return _TRANSPORTS[value]

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if self.url and self.command:
            raise ValueError(
                "set exactly one of url (Streamable HTTP) or command (stdio), not both"
            )
        if self.type == "stdio" and not self.command:
            raise ValueError("missing command (the server's type is stdio)")
        if self.type == "http" and not self.url:
            raise ValueError("missing url (the server's type is http)")
        if not self.url and not self.command:
            raise ValueError(
                "missing url or command: set exactly one of url (Streamable HTTP) or command "
                "(stdio)"
            )
        if self.url and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd are for stdio servers (command), not url")
        if self.command and self.headers:
            raise ValueError("headers are for Streamable HTTP servers (url), not command")
        return self

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def asks_first(self, tool: str, destructive: bool) -> bool:
        """Whether the server's tool `tool` waits for the user's approval; `destructive`: its
        annotations say destructiveHint and not readOnlyHint."""
        rule = True if self.requires_auth else self.confirm
        if isinstance(rule, bool):
            return rule
        if rule == "destructive":
            return destructive
        return any(fnmatch.fnmatchcase(tool, glob) for glob in rule)


class HTTPToolParameter(_Strict):
    type: str = "string"
    description: str = ""
    default: Any = None
    enum: list[Any] | None = None


class HTTPToolConfig(_Strict):
    url: str
    description: str
    timeout: float = Field(10, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, HTTPToolParameter] = Field(default_factory=dict)
    confirm: bool = False  # ask the user before it runs (src/approval/)
    requires_auth: bool = False  # the original plan's spelling of confirm: true

    @property
    def asks_first(self) -> bool:
        return self.confirm or self.requires_auth


class MCPFileConfig(_Strict):
    mcpServers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    tools: dict[str, HTTPToolConfig] = Field(default_factory=dict)
    # How long start-up waits for the servers' first connection (all at once), in seconds.
    # A server still connecting then keeps trying in the background; 0 = do not wait.
    startup_wait: float = Field(5, ge=0, le=300)
    _file: str = PrivateAttr("mcp.yml")

    @property
    def file(self) -> str:
        """The file this was loaded from, for errors found later (tool name collisions)."""
        return self._file

    def enabled_servers(self) -> dict[str, MCPServerConfig]:
        return {name: server for name, server in self.mcpServers.items() if not server.disabled}


def load_mcp_config(path: str | Path, env: Mapping[str, str]) -> MCPFileConfig:
    """Load mcp.yml; a missing file means no servers. Raises ConfigError naming the key.
    `env` is the environment its ${VAR}s expand from (src/config/loader.py reads it)."""
    config = load_file(path, MCPFileConfig, env, missing_ok=True, prepare=_check_names)
    config._file = str(path)
    return config


def _check_names(raw: dict[Any, Any], file: str) -> dict[Any, Any]:
    """Empty sections become empty mappings; server and tool names must fit the model's rules."""
    raw = {k: ({} if v is None else v) for k, v in raw.items()}
    for name in raw.get("mcpServers") or {}:
        if not _SERVER_NAME.match(str(name)):
            raise ConfigError(file, f"mcpServers.{name}", "use 1-32 of [A-Za-z0-9_-]")
    for name in raw.get("tools") or {}:
        if not _TOOL_NAME.match(str(name)):
            raise ConfigError(file, f"tools.{name}", "use 1-64 of [A-Za-z0-9_-]")
    return raw
