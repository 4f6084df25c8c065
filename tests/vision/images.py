"""Real image files made in the test with Pillow."""

from __future__ import annotations

import io
import random

from PIL import Image


def picture(width: int, height: int, fmt: str = "JPEG", mode: str = "RGB", seed: int = 1) -> bytes:
    """An image of that size: a few coloured bands, so it compresses like a photo would not."""
    rng = random.Random(seed)
    image = Image.new(mode, (width, height))
    band = max(1, height // 8)
    for top in range(0, height, band):
        colour = tuple(rng.randrange(256) for _ in mode)
        image.paste(colour if len(colour) > 1 else colour[0], (0, top, width, top + band))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def noisy_jpeg(width: int, height: int, quality: int = 95) -> bytes:
    """A JPEG of random pixels: about as big as a photo of that size can get."""
    image = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def photo_sizes(width: int, height: int, seed: int = 1) -> list[tuple[bytes, int, int]]:
    """What Telegram sends for a photo: a thumbnail and the full size, smallest first."""
    small = (90, max(1, 90 * height // width))
    return [
        (picture(*small, seed=seed), *small),
        (picture(width, height, seed=seed), width, height),
    ]
