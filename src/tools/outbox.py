"""Files back to the user: the images and files a turn's tools made, sent after the answer.

A tool hands its files over in `ToolResult.files` (an MCP tool's images and embedded
resources, src/toolservers/results.py; a built-in tool's own). The registry offers each to
the running turn's Outbox and puts the Outbox's note in the tool result instead of the
bytes ("[image sent to the user: chart.png, 12 KB]"), so no file content, base64 or not,
reaches the model or the stored history. The channel made the Outbox for the turn (with its
own size limits; see Request.outbox) and sends what is in it after the text answer, and the
notices of files it could not take. Channel-independent: no Telegram here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # shown as a picture
MAX_FILES = 10  # per turn; more is a tool gone wrong, not something to flood a chat with


@dataclass(frozen=True)
class OutgoingFile:
    name: str  # the name the user sees; never a path on this machine
    mime_type: str
    data: bytes

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass(frozen=True)
class Delivery:
    file: OutgoingFile
    as_photo: bool  # a picture in the chat; else a file to download


@dataclass(eq=False)  # one turn's own: compared and hashed by identity
class Outbox:
    """One turn's files for the user. None limits: no size limit (the console)."""

    max_photo_bytes: int | None = None
    max_document_bytes: int | None = None
    max_files: int = MAX_FILES
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # notices for the user

    def offer(self, file: OutgoingFile) -> str:
        """Take the file for sending if it fits; the note for the model either way."""
        what = "image" if file.is_image else "file"
        if len(self.deliveries) >= self.max_files:
            return f"[{what} not sent: {file.name}; this turn already sent {self.max_files} files]"
        file = self._unique(file)
        photo = file.mime_type in PHOTO_TYPES and _fits(file, self.max_photo_bytes)
        if not photo and not _fits(file, self.max_document_bytes):
            limit = size_text(self.max_document_bytes or 0)
            self.refused.append(
                f"A tool made a file I can't send you here: {file.name} is "
                f"{size_text(len(file.data))}, and this chat takes files up to {limit}."
            )
            return (
                f"[{what} not sent: {file.name} is {size_text(len(file.data))}, over the "
                f"{limit} the chat takes; the user was told]"
            )
        self.deliveries.append(Delivery(file, photo))
        return f"[{what} sent to the user: {file.name}, {size_text(len(file.data))}]"

    def _unique(self, file: OutgoingFile) -> OutgoingFile:
        """The file, renamed "name-2.ext" (-3, ...) if the turn already sends that name."""
        taken = {delivery.file.name for delivery in self.deliveries}
        if file.name not in taken:
            return file
        stem, dot, extension = file.name.rpartition(".")
        stem, dot = (stem, dot) if stem else (extension, "")
        extension = extension if dot else ""
        number = 2
        while f"{stem}-{number}{dot}{extension}" in taken:
            number += 1
        return replace(file, name=f"{stem}-{number}{dot}{extension}")


def not_deliverable(file: OutgoingFile) -> str:
    """The note for a file made where no chat can receive it (no turn, or no outbox)."""
    what = "image" if file.is_image else "file"
    return (
        f"[{what}: {file.name} ({file.mime_type}, {size_text(len(file.data))}); not sent: "
        "files cannot be delivered here]"
    )


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _fits(file: OutgoingFile, limit: int | None) -> bool:
    return limit is None or len(file.data) <= limit
