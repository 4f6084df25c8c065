"""Plain HTTP tools (the `tools:` section of mcp.yml): POST {"params": {...}} to a URL and
read {"result": ...} or {"error": ...}."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from src.errors import ToolError
from src.tools.base import Tool, ToolResult
from src.toolservers.config import HTTPToolConfig

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class HTTPToolSession:
    """One aiohttp session shared by the HTTP tools, opened on first use."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HTTPTool(Tool):
    def __init__(self, name: str, config: HTTPToolConfig, session: HTTPToolSession) -> None:
        self.name = name
        self.description = config.description
        self.timeout_s = config.timeout
        self.parameters = parameters_schema(config)
        self.confirm = config.asks_first
        self._config = config
        self._session = session
        self._defaults = {
            key: p.default for key, p in config.parameters.items() if p.default is not None
        }

    async def execute(self, arguments: dict[str, Any]) -> ToolResult:
        params = {**self._defaults, **arguments}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with self._session.get().post(
                self._config.url,
                json={"params": params},
                headers=self._config.headers,
                timeout=timeout,
            ) as response:
                body = await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
        except TimeoutError:
            raise  # the registry answers "did not finish in time"
        except aiohttp.ClientError as exc:
            logger.warning("HTTP tool %s: cannot reach the service: %s", self.name, exc)
            raise ToolError(f"cannot reach the {self.name} service right now") from None
        data = _json(body)
        error = data.get("error") if isinstance(data, dict) else None
        if status >= 400:
            logger.warning("HTTP tool %s: the service answered HTTP %d", self.name, status)
            detail = f": {_text(error)}" if error is not None else ""
            raise ToolError(f"the {self.name} service failed (HTTP {status}){detail}")
        if error is not None:
            return ToolResult(f"Error: {_text(error)}", is_error=True)
        if not isinstance(data, dict) or "result" not in data:
            raise ToolError(f"the {self.name} service sent an answer without a result")
        return ToolResult(_text(data["result"]))


def parameters_schema(config: HTTPToolConfig) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, parameter in config.parameters.items():
        prop: dict[str, Any] = {"type": parameter.type}
        if parameter.description:
            prop["description"] = parameter.description
        if parameter.enum is not None:
            prop["enum"] = parameter.enum
        if parameter.default is None:
            required.append(key)
        else:
            prop["default"] = parameter.default
        properties[key] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    return json.dumps(value, ensure_ascii=False, default=str)
