"""A document's text: PDF (pypdf, page by page), Word .docx (python-docx), plain text.

Everything here is synchronous and CPU-bound: `read_text` runs it in a worker thread. The
libraries are imported on first use (start-up time and idle memory). Extraction stops once
it has `limit` characters, so a 1,000-page PDF costs no more than the pages that are shown.
Failures are DocumentError with a message for the user; details go to the log.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import logging
from dataclasses import dataclass

from src.documents.kinds import READABLE, Kind
from src.errors import DocumentError

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Extracted:
    text: str  # at most `limit` characters (plus at most one page's worth)
    complete: bool  # False: there was more than `limit` characters
    pages: int | None = None  # PDFs: how many pages the file has
    pages_read: int | None = None  # PDFs: how many were read before the limit


async def read_text(data: bytes, kind: Kind, limit: int) -> Extracted:
    """The document's text, extracted in a worker thread."""
    return await asyncio.to_thread(extract, data, kind, limit)


def extract(data: bytes, kind: Kind, limit: int) -> Extracted:
    if not data:
        raise DocumentError("That file is empty.")
    if kind == "pdf":
        found = _pdf(data, limit)
    elif kind == "docx":
        found = _docx(data, limit)
    else:
        text = decode_text(data)
        if text is None:
            raise DocumentError(
                f"That file doesn't look like text, and I can't read that type. I can read "
                f"{READABLE}."
            )
        found = Extracted(text[:limit], len(text) <= limit)
    if not found.text.strip():
        what = "PDF" if kind == "pdf" else "file"
        hint = (
            " It looks like scanned pages or pictures, which I can't read as a document: "
            "send the pages as photos instead, or a PDF with real text."
            if kind == "pdf"
            else ""
        )
        raise DocumentError(f"I couldn't find any text in that {what}.{hint}")
    return found


def decode_text(data: bytes) -> str | None:
    """The bytes as text (UTF-8, UTF-16 with a byte order mark, else Windows-1252 when it
    looks like text), or None when they look binary."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13))
    if controls > len(head) // 50:
        return None
    return data.decode("cp1252", errors="replace")


def _pdf(data: bytes, limit: int) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opened(reader):
            raise DocumentError(
                "That PDF is protected with a password, so I can't read it. Could you send "
                "a copy without the password?"
            )
        total = len(reader.pages)
        parts: list[str] = []
        size = 0
        read = 0
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            read = number
            if text:
                part = f"[Page {number}]\n{text}"
                parts.append(part)
                size += len(part) + 2
            if size >= limit:
                break
    except DocumentError:
        raise
    except DependencyError as exc:  # an encryption pypdf cannot open without a library
        logger.warning("PDF not readable: %s", exc)
        raise DocumentError(
            "That PDF is encrypted in a way I can't open. Could you send a copy without the "
            "protection?"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files
        logger.info("PDF not readable: %s: %s", type(exc).__name__, exc)
        raise DocumentError(
            "I couldn't read that PDF: the file seems to be damaged. Could you send it again, "
            "or export it anew?"
        ) from exc
    text = "\n\n".join(parts)
    complete = read == total and len(text) <= limit
    return Extracted(text[:limit], complete, total, read)


def _opened(reader: object) -> bool:
    """Open a PDF that is encrypted without a user password (many "protected" PDFs only
    restrict printing or copying). False when it needs a password."""
    from pypdf.errors import FileNotDecryptedError

    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except FileNotDecryptedError:
        return False


def _docx(data: bytes, limit: int) -> Extracted:
    try:
        from docx import Document
    except ImportError as exc:  # an install without python-docx
        raise DocumentError(f"I can't read Word documents here. I can read {READABLE}.") from exc
    try:
        document = Document(io.BytesIO(data))
        lines: list[str] = []
        size = 0
        for paragraph in document.paragraphs:
            lines.append(paragraph.text)
            size += len(paragraph.text) + 1
            if size > limit:
                break
        for table in document.tables if size <= limit else []:
            for row in table.rows:
                line = " | ".join(cell.text.strip() for cell in row.cells)
                lines.append(line)
                size += len(line) + 1
                if size > limit:
                    break
    except Exception as exc:  # not a zip, no document part, broken XML, an encrypted file
        logger.info("docx not readable: %s: %s", type(exc).__name__, exc)
        raise DocumentError(
            "I couldn't read that Word document: the file seems to be damaged or "
            "password-protected. Could you send it again, or as a PDF?"
        ) from exc
    text = "\n".join(lines).strip()
    return Extracted(text[:limit], len(text) <= limit)
