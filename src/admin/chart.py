"""Bar charts drawn on the server: the geometry of an SVG (the template writes the markup, so
every label passes through autoescape). No script and nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 10, 40  # room for the axis labels
ROW = 26  # a horizontal chart's bar height, gap included


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day or the user
    value: float
    text: str  # the value as people read it ("1,234 tokens", "$0.12")


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str
    anchor: str = "end"  # SVG text-anchor: start | middle | end


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]  # axis labels
    horizontal: bool = False

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def columns(
    title: str, points: list[tuple[str, float]], show: Callable[[float], str], every: int = 5
) -> Chart:
    """Vertical bars left to right (a day each); every `every`-th label under the axis."""
    top = max((value for _, value in points), default=0.0) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(len(points), 1)
    bars, ticks = [], []
    for index, (label, value) in enumerate(points):
        height = inner_h * value / top
        x = LEFT + index * slot
        bars.append(
            Bar(x + 1, TOP + inner_h - height, max(slot - 2, 1), height, label, value, show(value))
        )
        if index % every == 0 or index == len(points) - 1:
            ticks.append(Tick(x + slot / 2, HEIGHT - BOTTOM + 16, label[5:], "middle"))  # "12-06"
    for share in (0.0, 0.5, 1.0):
        ticks.append(Tick(LEFT - 6, TOP + inner_h * (1 - share) + 4, show(top * share)))
    return Chart(title, WIDTH, HEIGHT, bars, ticks)


def rows(title: str, points: list[tuple[str, float]], show: Callable[[float], str]) -> Chart:
    """Horizontal bars top to bottom (a user each), the value at the end of the bar."""
    top = max((value for _, value in points), default=0.0) or 1.0
    left = 120
    inner_w = WIDTH - left - 140
    bars, ticks = [], []
    for index, (label, value) in enumerate(points):
        y = TOP + index * ROW
        width = inner_w * value / top
        bars.append(Bar(left, y, width, ROW - 6, label, value, show(value)))
        ticks.append(Tick(left - 6, y + ROW / 2, label))
        ticks.append(Tick(left + width + 6, y + ROW / 2, show(value), "start"))
    return Chart(title, WIDTH, TOP * 2 + ROW * max(len(points), 1), bars, ticks, horizontal=True)
