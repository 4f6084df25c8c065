"""One message of a conversation, as stored and as sent to the model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class ImagePart:
    """An image a request carries (src/conversation/images.py): never stored, only sent."""

    url: str  # a data: URL
    detail: str  # low | high | auto
    tokens: int  # the local estimate of what it costs in the prompt

    def to_api(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.url, "detail": self.detail}}


@dataclass
class Message:
    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    created_at: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Images this request carries beside the text (a user message within vision.keep_turns);
    # set on the copy a window sends, never stored (the history keeps references).
    images: tuple[ImagePart, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: only the fields that are set."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        data["created_at"] = self.created_at
        if self.metadata:
            data["metadata"] = self.metadata
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        role = data.get("role")
        if role not in _ROLES:
            raise ValueError(f"unknown role {role!r}")
        content = data.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError("content must be a string or null")
        return cls(
            role=role,
            content=content,
            name=data.get("name"),
            tool_calls=data.get("tool_calls") or None,
            tool_call_id=data.get("tool_call_id"),
            created_at=float(data.get("created_at") or 0.0),
            metadata=dict(data.get("metadata") or {}),
        )

    def to_api(self) -> dict[str, Any]:
        """The Chat Completions form of this message (no metadata, no timestamps)."""
        data: dict[str, Any] = {"role": self.role}
        if self.role == "assistant":
            data["content"] = self.content or None
            if self.tool_calls:
                data["tool_calls"] = self.tool_calls
            elif not self.content:
                data["content"] = ""
        elif self.images and self.role == "user":
            text = {"type": "text", "text": self.content or ""}
            data["content"] = [text, *(image.to_api() for image in self.images)]
        else:
            data["content"] = self.content or ""
        if self.role == "tool":
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None and self.role in ("user", "system"):
            data["name"] = self.name
        return data

    @property
    def tool_call_ids(self) -> list[str]:
        return [str(call.get("id")) for call in self.tool_calls or []]
