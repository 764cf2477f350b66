"""The history's charts: segment shares over time (inline SVG) and the heat map's colour scale.

Like :mod:`custseg.report.charts`: no script, a title and description per chart, and colour never
the only cue (each line ends in its segment's name and latest share, each heat map cell writes
its count and probability).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from custseg.report.charts import round_ticks, svg_element
from custseg.report.text import escape, percent, whole_percent
from custseg.report.verdicts import GOOD, LIGHT_GOOD, NEUTRAL, STRONG_GOOD

#: The heat map's sequential scale, probability 0 to 1 at even steps: the blue half of Paul
#: Tol's BuRd (the report's good-news blues) run on to its darkest blue. One hue whose
#: lightness falls steadily reads the same with the common colour vision deficiencies.
HEAT_STOPS: tuple[str, ...] = (NEUTRAL, LIGHT_GOOD, GOOD, STRONG_GOOD, "#2166ac")
#: Most date labels under the shares chart (every n-th date is labelled beyond this).
MAX_DATE_LABELS = 8
#: Dots mark each date up to this many dates (beyond, the lines alone stay readable).
MAX_DOTTED_DATES = 24


@dataclass(frozen=True)
class ShareSeries:
    """One segment's share of customers at each as-of date of the chart (0 when absent)."""

    label: str
    color: str
    shares: Sequence[float]


def heat_color(probability: float) -> str:
    """The heat map colour of a probability (linear between :data:`HEAT_STOPS`).

    Examples
    --------
    >>> heat_color(0.0), heat_color(0.5), heat_color(1.0)
    ('#f7f7f7', '#92c5de', '#2166ac')
    """
    p = min(max(probability, 0.0), 1.0) * (len(HEAT_STOPS) - 1)
    low = min(int(p), len(HEAT_STOPS) - 2)
    a, b = _rgb(HEAT_STOPS[low]), _rgb(HEAT_STOPS[low + 1])
    t = p - low
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def share_lines_chart(
    chart_id: str,
    title: str,
    desc: str,
    dates: Sequence[str],
    series: Sequence[ShareSeries],
    *,
    width: int = 1060,
    height: int = 340,
) -> Markup:
    """Each segment's share of customers per as-of date as a line, named at its right end.

    The horizontal axis is time (dates placed by their day, so irregular gaps show); the
    vertical axis runs from 0 to a round share above the largest.
    """
    label_w = min(230, max((len(s.label) for s in series), default=8) * 7 + 60)
    left, right, top, bottom = 48, label_w, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    days = [dt.date.fromisoformat(d).toordinal() for d in dates]
    first, span = days[0], (days[-1] - days[0]) or 1
    y_ticks = round_ticks(max((v for s in series for v in s.shares), default=0.0))
    y_max = y_ticks[-1] or 1.0

    def px(i: int) -> float:
        return left + plot_w * (days[i] - first) / span

    def py(share: float) -> float:
        return top + plot_h * (1 - share / y_max)

    parts = []
    for tick in y_ticks:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{py(tick):.1f}" x2="{left + plot_w}" '
            f'y2="{py(tick):.1f}"/><text class="tick" x="{left - 8}" y="{py(tick) + 4:.1f}" '
            f'text-anchor="end">{whole_percent(tick)}</text>'
        )
    step = -(-len(dates) // MAX_DATE_LABELS)
    for i, day in enumerate(dates):
        if i % step and i != len(dates) - 1:
            continue
        if i != len(dates) - 1 and len(dates) - 1 - i < step:
            continue  # too close to the last date, which is always labelled
        parts.append(
            f'<line class="grid" x1="{px(i):.1f}" y1="{top}" x2="{px(i):.1f}" '
            f'y2="{top + plot_h}"/><text class="tick" x="{px(i):.1f}" '
            f'y="{top + plot_h + 16}" text-anchor="middle">{escape(day)}</text>'
        )
    for s in series:
        points = [(px(i), py(v)) for i, v in enumerate(s.shares)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y) in enumerate(points))
        history = ", ".join(f"{day} {percent(v)}" for day, v in zip(dates, s.shares, strict=True))
        parts.append(
            f'<path class="line" d="{d}" stroke="{s.color}"><title>{escape(s.label)}: '
            f"{escape(history)}</title></path>"
        )
        if len(dates) <= MAX_DOTTED_DATES:
            parts.append(
                "".join(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.color}"/>' for x, y in points
                )
            )
    ends = _spread([py(s.shares[-1]) for s in series], gap=15, low=top, high=top + plot_h)
    for s, y in zip(series, ends, strict=True):
        x = left + plot_w
        parts.append(
            f'<line class="leader" x1="{x + 2:.1f}" y1="{py(s.shares[-1]):.1f}" '
            f'x2="{x + 10:.1f}" y2="{y:.1f}" stroke="{s.color}"/>'
            f'<text class="label" x="{x + 14:.1f}" y="{y + 4:.1f}">{escape(s.label)} '
            f'<tspan class="value-strong">{percent(s.shares[-1])}</tspan></text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" '
        f'y2="{top + plot_h}"/><text class="axis-title" x="{left + plot_w / 2:.1f}" '
        f'y="{height - 4}" text-anchor="middle">As-of date</text>'
    )
    return svg_element(chart_id, width, height, title, desc, "".join(parts))


def _spread(positions: Sequence[float], *, gap: float, low: float, high: float) -> list[float]:
    """Move label positions apart to at least ``gap`` each, staying between ``low`` and
    ``high`` as far as they fit, in the order the positions have (ties by their index)."""
    order = sorted(range(len(positions)), key=lambda i: (positions[i], i))
    placed = [0.0] * len(positions)
    previous = low - gap
    for i in order:
        previous = max(positions[i], previous + gap)
        placed[i] = previous
    overflow = placed[order[-1]] - high if order else 0.0
    if overflow > 0:
        # Push the stack back up from the bottom, as far as the top allows.
        following = high + gap
        for i in reversed(order):
            following = min(placed[i], following - gap)
            placed[i] = max(following, low)
    return placed


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
