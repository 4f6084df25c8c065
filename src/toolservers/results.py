"""An MCP tool result as text for the model, and files for the user.

Text is joined; structured content is given as JSON (text blocks that only repeat it are
dropped); images and embedded resources become files for the user (src/tools/outbox.py:
the registry puts a note about each in the text, never their bytes), a text resource's text
is given to the model as well; audio and resource links are described; `is_error` becomes a
tool error; the text is capped at the server's `max_result_chars`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
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
from src.tools.outbox import OutgoingFile

EMPTY = "(the tool returned no content)"
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
    "application/json": "json",
    "application/zip": "zip",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/markdown": "md",
    "text/html": "html",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def to_tool_result(result: CallToolResult, max_chars: int | None = None) -> ToolResult:
    parts: list[str] = []
    files: list[OutgoingFile] = []
    structured = result.structured_content
    if structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, default=str))
    for block in result.content:
        if structured is not None and _repeats(block, structured):
            continue
        file = as_file(block, len(files) + 1)
        if isinstance(file, OutgoingFile):
            files.append(file)
            if isinstance(block, EmbeddedResource) and not isinstance(
                block.resource, BlobResourceContents
            ):
                parts.append(describe_block(block))  # the model reads a text resource too
        else:
            parts.append(file or describe_block(block))
    text = "\n".join(part for part in parts if part) or ("" if files else EMPTY)
    if result.is_error:
        text = f"Error: {text}"
    return ToolResult(cap(text, max_chars), is_error=bool(result.is_error), files=tuple(files))


def binary_chars(result: CallToolResult) -> int:
    """How much base64 the result carries (decoding a lot of it belongs in a thread)."""
    total = 0
    for block in result.content:
        if isinstance(block, ImageContent):
            total += len(block.data)
        elif isinstance(block, EmbeddedResource) and isinstance(
            block.resource, BlobResourceContents
        ):
            total += len(block.resource.blob)
    return total


def as_file(block: ContentBlock, number: int) -> OutgoingFile | str | None:
    """The block as a file for the user; a note when its data does not decode; None for a
    block that is not a file."""
    if isinstance(block, ImageContent):
        mime = block.mime_type or "application/octet-stream"
        data = _decoded(block.data)
        name = f"image-{number}.{_EXTENSIONS.get(mime, 'bin')}"
    elif isinstance(block, EmbeddedResource):
        resource = block.resource
        if isinstance(resource, BlobResourceContents):
            mime = resource.mime_type or "application/octet-stream"
            data = _decoded(resource.blob)
        else:
            mime = resource.mime_type or "text/plain"
            data = resource.text.encode("utf-8")
        name = file_name(str(resource.uri), mime, number)
    else:
        return None
    if data is None:
        return f"[{mime} content that is not valid base64; not sent]"
    return OutgoingFile(name, mime, data)


def file_name(uri: str, mime: str, number: int) -> str:
    """A display name from the resource's URI: its last segment, with only safe characters
    and an extension; "file-<n>.<ext>" when there is nothing usable."""
    last = uri.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", last).strip("._")[:80]
    extension = _EXTENSIONS.get(mime, "bin")
    if not name:
        return f"file-{number}.{extension}"
    return name if "." in name else f"{name}.{extension}"


def _decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


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
