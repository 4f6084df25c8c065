"""mcp.yml: MCP servers (Streamable HTTP or stdio) and plain HTTP tools, validated."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from src.config import expand_env, load_yaml, validate_model
from src.errors import ConfigError

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolFilter(_Strict):
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)


class MCPServerConfig(_Strict):
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout: float = Field(30, gt=0)
    tools: ToolFilter = ToolFilter()

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if bool(self.url) == bool(self.command):
            raise ValueError("set exactly one of url (Streamable HTTP) or command (stdio)")
        return self

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"


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


class MCPFileConfig(_Strict):
    mcpServers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    tools: dict[str, HTTPToolConfig] = Field(default_factory=dict)


def load_mcp_config(path: str | Path, env: Mapping[str, str] | None = None) -> MCPFileConfig:
    """Load mcp.yml; a missing file means no servers. Raises ConfigError naming the key."""
    file = str(path)
    if not Path(path).exists():
        return MCPFileConfig()
    raw = load_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(file, "", "the top level must be a mapping")
    raw = {k: ({} if v is None else v) for k, v in raw.items()}
    for name in raw.get("mcpServers") or {}:
        if not _SERVER_NAME.match(str(name)):
            raise ConfigError(file, f"mcpServers.{name}", "use 1-32 of [A-Za-z0-9_-]")
    expanded = expand_env(raw, file, os.environ if env is None else env)
    return validate_model(MCPFileConfig, expanded, file)
