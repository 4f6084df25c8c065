"""`--check`: report on both files, the tool servers, the model endpoint, the store and the token;
exit 0 when every probe passed, 1 otherwise (invalid files never get here: exit 2 in main)."""

from __future__ import annotations

import logging
from typing import TextIO

from src.config import Config
from src.errors import AssistantError
from src.llm.client import LLMClient
from src.store import create_storage
from src.toolservers.config import MCPFileConfig

logger = logging.getLogger(__name__)


async def run_check(
    config: Config, mcp: MCPFileConfig, config_file: str, mcp_file: str, out: TextIO
) -> int:
    """Returns the exit code: 0 when every probe passed, 1 otherwise."""
    ok = True

    def line(name: str, good: bool, detail: str) -> None:
        nonlocal ok
        ok = ok and good
        out.write(f"{'ok  ' if good else 'FAIL'}  {name:<10} {detail}\n")

    line("config", True, f"{config_file} is valid")
    servers = len(mcp.mcpServers)
    line("mcp", True, f"{mcp_file} is valid ({servers} MCP servers, {len(mcp.tools)} HTTP tools)")
    if mcp.mcpServers or mcp.tools:
        from src.cli.check_toolservers import check_tool_servers  # imports the mcp SDK

        for good, name, detail in await check_tool_servers(config, mcp):
            line(name, good, detail)

    llm = LLMClient(config.llm)
    try:
        models = await llm.list_models()
        listed = "listed" if config.llm.model in models else "not in /models (may still work)"
        line("model", True, f"{config.llm.base_url} answers; {config.llm.model} {listed}")
    except AssistantError as exc:
        line("model", False, f"{config.llm.base_url}: {exc}")
    finally:
        await llm.aclose()

    storage = create_storage(config.store, config_file)
    try:
        await storage.open()
        await storage.ping()
        line("store", True, await _store_status(config, storage.conversations))
    except AssistantError as exc:
        line("store", False, f"{_describe_store(config)}: {exc}")
    finally:
        await storage.close()

    token = bool(config.telegram.bot_token.get_secret_value())
    detail = "bot token set" if token else "no bot token (set TELEGRAM_BOT_TOKEN; --console works)"
    out.write(f"{'ok  ' if token else 'note'}  {'telegram':<10} {detail}\n")
    if config.telegram.mode == "webhook" and token:
        from src.channels.telegram.webhook import check_webhook  # imports telegram

        hook, said = await check_webhook(config)
        if hook is None:
            out.write(f"note  {'webhook':<10} {said}\n")
        else:
            line("webhook", hook, said)
    if config.queue.type == "sqs":
        from src.cli.check_replicas import check_queue

        line("queue", *await check_queue(config))
    out.write("all checks passed\n" if ok else "some checks failed\n")
    return 0 if ok else 1


async def _store_status(config: Config, store: object) -> str:
    """The backend's own report when it has one (DynamoDB: table status, size, TTL)."""
    describe = getattr(store, "describe", None)
    return str(await describe()) if describe is not None else _describe_store(config)


def _describe_store(config: Config) -> str:
    if config.store.type == "file":
        return f"file store in {config.store.file.directory}"
    return f"dynamodb table {config.store.dynamodb.table} ({config.store.dynamodb.region})"
