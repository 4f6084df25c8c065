"""An MCP tool result as text for the model.

Text is joined; structured content is given as JSON (text blocks that only repeat it are
dropped); images, audio and resources are described, not inlined; `is_error` becomes a tool
error; the whole is capped at the server's `max_result_chars`.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)

from src.tools.base import ToolResult

EMPTY = "(the tool returned no content)"


def to_tool_result(result: CallToolResult, max_chars: int | None = None) -> ToolResult:
    parts: list[str] = []
    structured = result.structured_content
    if structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, default=str))
    for block in result.content:
        if structured is not None and _repeats(block, structured):
            continue
        parts.append(describe_block(block))
    text = "\n".join(part for part in parts if part) or EMPTY
    if result.is_error:
        text = f"Error: {text}"
    return ToolResult(cap(text, max_chars), is_error=bool(result.is_error))


def describe_block(block: ContentBlock) -> str:
    if isinstance(block, TextContent):
        return block.text
    if isinstance(block, ImageContent):
        return f"[image: {block.mime_type}, {_decoded_size(block.data)}]"
    if isinstance(block, AudioContent):
        return f"[audio: {block.mime_type}, {_decoded_size(block.data)}]"
    if isinstance(block, ResourceLink):
        details = ", ".join(x for x in (block.mime_type, block.description) if x)
        return f"[resource link: {block.name} <{block.uri}>{f' ({details})' if details else ''}]"
    if isinstance(block, EmbeddedResource):
        resource = block.resource
        mime = resource.mime_type or "unknown type"
        if isinstance(resource, BlobResourceContents):
            return f"[resource {resource.uri}: {mime}, {_decoded_size(resource.blob)}]"
        return f"[resource {resource.uri} ({mime})]\n{resource.text}"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def cap(text: str, max_chars: int | None) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[... {len(text) - max_chars} more characters cut]"


def _repeats(block: ContentBlock, structured: Any) -> bool:
    """True for a text block that only repeats the structured content: its JSON (the spec asks
    servers to send both, for older clients), or the value the Python SDK wraps as
    {"result": value} when a tool returns something other than an object."""
    if not isinstance(block, TextContent):
        return False
    candidates = [structured]
    if isinstance(structured, dict) and list(structured) == ["result"]:
        candidates.append(structured["result"])
        if block.text == structured["result"]:
            return True
    try:
        return json.loads(block.text) in candidates
    except ValueError:
        return False


def _decoded_size(data: str) -> str:
    size = len(data) * 3 // 4 - data[-2:].count("=")
    return f"{size} bytes" if size < 10_000 else f"{size // 1024} KB"
