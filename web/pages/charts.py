"""Server-rendered SVG bar charts: the dashboard draws without any script or library."""

from __future__ import annotations

from datetime import date, timedelta

import attrs

WIDTH, HEIGHT, PAD = 640, 180, 24


@attrs.frozen
class Bar:
    day: str
    value: int
    x: float
    y: float
    width: float
    height: float


@attrs.frozen
class Chart:
    bars: list[Bar]
    top: int  # the value the full height stands for
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def days_ending(today: date, count: int) -> list[str]:
    """``count`` ISO days up to and including ``today``, oldest first."""
    return [(today - timedelta(days=back)).isoformat() for back in range(count - 1, -1, -1)]


def nice_top(peak: int) -> int:
    """A round scale at or above ``peak`` (1, 2, 5 times a power of ten; at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if peak <= step * factor:
                return step * factor
        step *= 10


def bars(counts: dict[str, int], days: list[str]) -> Chart:
    """One bar per day (missing days are zero), scaled into the plot area."""
    top = nice_top(max((counts.get(day, 0) for day in days), default=0))
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = inner_w / max(len(days), 1)
    found = []
    for index, day in enumerate(days):
        value = counts.get(day, 0)
        height = inner_h * value / top
        found.append(
            Bar(
                day=day,
                value=value,
                x=round(PAD + index * slot + slot * 0.15, 2),
                y=round(PAD + inner_h - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
            )
        )
    return Chart(found, top)
