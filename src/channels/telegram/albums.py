"""Albums: the photos of one Telegram media group answered as one turn.

Telegram sends each photo of an album as its own update, sharing a `media_group_id`. Each
is stored in the inbox like any message (so it is confirmed to Telegram only once it is
safe); `Albums` then holds the parts in memory until none has come for `settle_s` on the
injectable clock, and hands them to the lane merged into one item: the first part, with
every part's image and caption. Anything else for the same conversation first sends the
albums it holds on, so the order of the chat is kept. After a restart the parts are still
in the inbox and `merge_albums` puts them together again; the worker marks every part done
when the turn is over.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from src.clock import Clock, Timer
from src.conversation.visible import is_blank
from src.store.inbox import InboxItem

logger = logging.getLogger(__name__)

SETTLE_S = 1.0  # Telegram sends an album's parts together; a second covers a slow batch
GROUP_KEY = "media_group"
PARTS_KEY = "album"  # in the merged item: the update ids of the other parts


@dataclass
class _Album:
    parts: list[InboxItem] = field(default_factory=list)
    timer: Timer | None = None


class Albums:
    def __init__(
        self, submit: Callable[[str, InboxItem], None], clock: Clock, settle_s: float = SETTLE_S
    ) -> None:
        self._submit = submit
        self.clock = clock
        self.settle_s = settle_s
        self._open: dict[tuple[str, str], _Album] = {}

    def add(self, conversation_id: str, item: InboxItem) -> None:
        """Hold an album's part; the album goes on once no part came for `settle_s`."""
        key = (conversation_id, str(item.extra[GROUP_KEY]))
        album = self._open.setdefault(key, _Album())
        album.parts.append(item)
        if album.timer is not None:
            album.timer.cancel()
        album.timer = self.clock.call_later(self.settle_s, lambda: self._close(key))

    def flush(self, conversation_id: str) -> None:
        """Send on every album held for this conversation (something else comes after)."""
        for key in [k for k in self._open if k[0] == conversation_id]:
            self._close(key)

    def close(self) -> None:
        """Stop without sending on (shutdown): the parts are in the inbox for the restart."""
        for album in self._open.values():
            if album.timer is not None:
                album.timer.cancel()
        self._open.clear()

    def _close(self, key: tuple[str, str]) -> None:
        album = self._open.pop(key, None)
        if album is None:
            return
        if album.timer is not None:
            album.timer.cancel()
        self._submit(key[0], merge(album.parts))


def merge(parts: list[InboxItem]) -> InboxItem:
    """One item for the album: the first part, with every image and caption."""
    parts = sorted(parts, key=lambda item: item.update_id)
    first = parts[0]
    if len(parts) == 1:
        return first
    images = [ref for part in parts for ref in part.extra.get("images", [])]
    captions = [part.text for part in parts if not is_blank(part.text)]
    extra = {**first.extra, "images": images, PARTS_KEY: [p.update_id for p in parts[1:]]}
    return replace(first, text="\n\n".join(captions), extra=extra)


def merge_albums(items: list[InboxItem]) -> list[InboxItem]:
    """Recovered items (one conversation's, in order) with each album's parts merged, at
    the place of its first part."""
    groups: dict[str, list[InboxItem]] = {}
    result: list[InboxItem | str] = []
    for item in items:
        group = item.extra.get(GROUP_KEY)
        if item.kind != "photo" or not group:
            result.append(item)
            continue
        if str(group) not in groups:
            groups[str(group)] = []
            result.append(str(group))
        groups[str(group)].append(item)
    return [merge(groups[entry]) if isinstance(entry, str) else entry for entry in result]


class OncePerAlbum:
    """Says whether a refusal for an album part is the album's first (one answer, not one a
    photo); remembers the latest `size` albums."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first(self, group: str | None) -> bool:
        if group is None:
            return True
        if group in self._seen:
            return False
        self._seen[group] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True
