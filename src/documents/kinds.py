"""Which documents the bot reads, told from the file's name and MIME type alone.

The name is only looked at for its extension: it is never used as a path.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["pdf", "docx", "text", "sniff"]

READABLE = (
    "PDF files with text in them, Word documents (.docx), and plain text: .txt, Markdown, "
    "CSV, JSON, YAML, XML, HTML, logs and source code"
)

_TEXT_EXTENSIONS = frozenset(
    """txt text md markdown rst org adoc csv tsv json jsonl ndjson geojson yaml yml toml ini
    cfg conf env properties xml html htm xhtml svg log srt vtt tex bib py pyi ipynb js mjs cjs
    ts tsx jsx java kt kts scala groovy gradle c h cc cpp cxx hpp hh cs go rs rb php pl pm
    swift m mm r jl lua sh bash zsh fish ps1 bat cmd sql graphql proto css scss sass less vue
    svelte hs ml mli ex exs erl clj cljs dart elm nim zig tf hcl dockerfile makefile cmake mk
    diff patch gitignore editorconfig""".split()
)
_TEXT_TYPES = frozenset(
    """application/json application/ld+json application/xml application/x-yaml
    application/yaml application/toml application/javascript application/x-javascript
    application/x-sh application/x-python application/sql application/x-tex application/csv
    application/x-ndjson application/xhtml+xml image/svg+xml""".split()
)
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def extension(name: str | None) -> str:
    """The lower-case extension of a file name ("" when it has none); a name without a dot
    that is itself a known file name (Makefile, Dockerfile) counts as one."""
    base = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip().lower()
    if "." not in base.lstrip("."):
        return base.lstrip(".") if base.lstrip(".") in _TEXT_EXTENSIONS else ""
    return base.rsplit(".", 1)[1]


def kind_of(name: str | None, mime_type: str | None) -> Kind | None:
    """How to read the file, or None for a type the bot does not read. "sniff": nothing
    says what it is (no known extension, a generic MIME type): read it if it is text."""
    ext = extension(name)
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if ext == "pdf" or mime == "application/pdf":
        return "pdf"
    if ext == "docx" or mime == _DOCX_TYPE:
        return "docx"
    if ext in _TEXT_EXTENSIONS or mime.startswith("text/") or mime in _TEXT_TYPES:
        return "text"
    if not ext and mime in _GENERIC_TYPES:
        return "sniff"
    return None


def label(kind: Kind, pages: int | None) -> str:
    """How the file is named to the model: "PDF, 12 pages", "Word document", "text"."""
    if kind == "pdf":
        return f"PDF, {pages} page{'s' if pages != 1 else ''}" if pages else "PDF"
    return "Word document" if kind == "docx" else "text file"
