"""The local token estimate's correction from the usage the model reports.

The window is sized with a local estimate (about four characters a token, no network). Each
response's reported prompt tokens, divided by the estimate for that request, gives a ratio;
the conversation keeps a smoothed ratio in its metadata and multiplies estimates by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RATIO_KEY = "token_ratio"
MIN_RATIO, MAX_RATIO = 0.5, 4.0
_MIN_SAMPLE = 50  # estimates below this many tokens are too noisy to learn from
_DOWN_WEIGHT = 0.3  # a ratio rises at once (over budget is worse) and falls slowly


def stored_ratio(metadata: Mapping[str, Any]) -> float:
    try:
        value = float(metadata.get(RATIO_KEY) or 1.0)
    except (TypeError, ValueError):
        return 1.0
    return min(MAX_RATIO, max(MIN_RATIO, value))


def updated_ratio(current: float, estimated: int, reported: int) -> float:
    """The ratio after one request estimated at `estimated` tokens was billed `reported`."""
    if estimated < _MIN_SAMPLE or reported <= 0:
        return current
    observed = min(MAX_RATIO, max(MIN_RATIO, reported / estimated))
    if observed >= current:
        return observed
    return current + (observed - current) * _DOWN_WEIGHT


def corrected(estimated: int, ratio: float) -> int:
    return int(estimated * ratio + 0.999)
