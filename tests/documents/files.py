"""Real documents made in the test: PDFs written with pypdf (a Helvetica text layer per
page, optionally encrypted), Word documents with python-docx, and damaged files."""

from __future__ import annotations

import io
import textwrap

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(pages: list[str], password: str | None = None, owner_only: bool = False) -> bytes:
    """A PDF whose page i shows pages[i] as real text (""; a page without text, as a scan
    is). `password`: encrypted with it (`owner_only`: an owner password only, so it opens
    without one, as "protected" PDFs often do)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        fonts = DictionaryObject({NameObject("/F1"): font})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        lines = [w for para in text.splitlines() for w in textwrap.wrap(para, 90) or [""]]
        ops = ["BT", "/F1 10 Tf", "12 TL", "50 750 Td"]
        ops += [f"({_escape(line)}) Tj T*" for line in lines[:60]]
        ops.append("ET")
        if not text:  # a drawn rectangle, no text: what a scanned page looks like to a reader
            ops = ["0.5 g", "100 100 400 600 re f"]
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1", "replace"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password is not None:
        user = "" if owner_only else password
        writer.encrypt(user_password=user, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    from docx import Document

    document = Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    """A file that starts like a PDF and is not one."""
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n" + bytes(range(256)) * 20


def page_text(number: int, words: int = 200) -> str:
    """A page of recognisable text: "p<number>w<i>" words."""
    return " ".join(f"p{number}w{i}" for i in range(words))
