"""DocumentReader: a downloaded file in, the turn's text and what to store about it out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from src.config import DocumentsConfig
from src.documents.extract import read_text
from src.documents.kinds import READABLE, Kind, kind_of, label
from src.documents.prompt import document_turn
from src.errors import DocumentError

logger = logging.getLogger(__name__)

SNIFF_MAX_BYTES = 2_000_000  # a file of unknown type is downloaded to look at, up to this


@dataclass(frozen=True)
class DocumentTurn:
    text: str  # the user message: the caption, then the file's text as data
    metadata: dict[str, Any]  # stored with the message (no file content)


class DocumentReader:
    def __init__(self, config: DocumentsConfig) -> None:
        self.config = config

    def kind(self, name: str | None, mime_type: str | None, size: int | None) -> Kind:
        """How the file will be read; DocumentError (before any download) for a type the
        bot does not read."""
        kind = kind_of(name, mime_type)
        if kind is None or (kind == "sniff" and size is not None and size > SNIFF_MAX_BYTES):
            raise DocumentError(f"I can't read that type of file. I can read {READABLE}.")
        return kind

    async def turn(
        self, data: bytes, kind: Kind, name: str, mime_type: str | None, caption: str
    ) -> DocumentTurn:
        """The turn for a downloaded file; DocumentError when it has no text to read."""
        found = await read_text(data, kind, self.config.max_chars)
        shown = "text" if kind == "sniff" else kind
        text = document_turn(caption, name, label(shown, found.pages), found)
        metadata: dict[str, Any] = {
            "name": name,
            "mime_type": mime_type,
            "kind": shown,
            "bytes": len(data),
            "chars": len(found.text),
            "cut": not found.complete,
        }
        if found.pages is not None:
            metadata["pages"] = found.pages
        return DocumentTurn(text, metadata)
