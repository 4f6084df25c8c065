"""An image file made ready for the model: sent as it is when it can be, else re-encoded.

Channel-independent and synchronous (the caller runs it in a worker thread: decoding and
encoding are CPU work). Pillow is imported on first use, not at start-up.

An image goes as it is when the model takes its format (JPEG, PNG, WEBP, still GIF), its
longer side is within `max_side` and it is no bigger than `max_bytes` (it is decoded once all
the same, so that a damaged file is told to the user, not refused by the model). Otherwise
it is turned upright (EXIF), shrunk to fit `max_side`, and encoded as JPEG (PNG when it
has transparency).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.errors import VisionError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_SIDE = 2048  # the model scales larger images down to this anyway
LOW_DETAIL_SIDE = 512  # what `detail: low` looks at
MAX_SEND_BYTES = 4_000_000  # above this an image is re-encoded (it travels in every request)
MAX_PIXELS = 60_000_000  # larger images are refused before decoding (memory)
JPEG_QUALITY = 85

UNREADABLE = (
    "I couldn't read that image: the file seems damaged or in a format I can't open. "
    "A JPEG or PNG works best."
)
TOO_LARGE = "That image has too many pixels for me to open. Could you send a smaller one?"


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    reencoded: bool


def max_side_for(detail: str) -> int:
    return LOW_DETAIL_SIDE if detail == "low" else MAX_SIDE


def prepare(
    data: bytes, max_side: int = MAX_SIDE, max_bytes: int = MAX_SEND_BYTES
) -> PreparedImage:
    """The image to send. Raises VisionError (for the user) when it cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise VisionError(TOO_LARGE)
        kind = ACCEPTED.get(image.format or "")
        animated = bool(getattr(image, "is_animated", False))
        image.load()  # a truncated or corrupt file fails here, not at the model
        if (
            kind is not None
            and not animated
            and max(width, height) <= max_side
            and len(data) <= max_bytes
        ):
            return PreparedImage(data, kind, width, height, reencoded=False)
        return _reencode(ImageOps.exif_transpose(image) or image, max_side)
    except VisionError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        logger.info("image could not be read: %s", exc)
        raise VisionError(UNREADABLE) from exc


def _reencode(image: Image, max_side: int) -> PreparedImage:
    from PIL import Image as PILImage

    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    transparent = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    out = io.BytesIO()
    if transparent:
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        mime = "image/png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        mime = "image/jpeg"
    width, height = image.size
    return PreparedImage(out.getvalue(), mime, width, height, reencoded=True)
