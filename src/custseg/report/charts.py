"""The report's charts, drawn as inline SVG: bars, stacked bars, a scatter plot and the k chart.

No script and nothing to fetch: each chart is an ``<svg>`` element with a title and a
description for screen readers, and every bar carries its label and value, so colour is never
the only cue. Segment colours are fixed per segment id, the same in every report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from custseg.catalogue import SEGMENT_NAMES, color_of
from custseg.report.text import compact, escape, percent, thousands


@dataclass(frozen=True)
class Bar:
    label: str
    color: str
    value: float
    value_label: str


def svg_element(
    chart_id: str, width: float, height: float, title: str, desc: str, body: str
) -> Markup:
    # Markup: the template inserts a chart as it is (its text was escaped while drawing it).
    return Markup(
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width:g} {height:g}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>{body}</svg>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[Bar],
    *,
    axis_format: Callable[[float], str],
    reference: tuple[float, str] | None = None,
    width: int = 540,
) -> Markup:
    """Horizontal bars, one per row, with value labels and an optional dashed reference line."""
    label_w = _label_width(r.label for r in rows)
    value_w = max(70, int(max((len(r.value_label) for r in rows), default=4) * 6.6) + 10)
    top = 24 if reference else 8
    row_h, bar_h = 30, 18
    plot_w = width - label_w - value_w
    height = top + row_h * len(rows) + 26
    peak = max([r.value for r in rows] + [reference[0] if reference else 0.0])
    ticks = round_ticks(peak)
    x_max = ticks[-1] or 1.0

    def x(value: float) -> float:
        return label_w + plot_w * max(value, 0.0) / x_max

    parts = []
    bottom = top + row_h * len(rows)
    for tick in ticks:
        parts.append(
            f'<line class="grid" x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" '
            f'y2="{bottom}"/><text class="tick" x="{x(tick):.1f}" y="{bottom + 16}" '
            f'text-anchor="middle">{escape(axis_format(tick))}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * row_h + (row_h - bar_h) / 2
        w = x(row.value) - label_w
        parts.append(
            f'<text class="label" x="{label_w - 10}" y="{y + bar_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(row.label)}</text>'
            f'<rect x="{label_w}" y="{y:.1f}" width="{max(w, 1.0):.1f}" height="{bar_h}" '
            f'rx="3" fill="{row.color}">'
            f"<title>{escape(row.label)}: {escape(row.value_label)}</title>"
            f'</rect><text class="value" x="{label_w + w + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}">'
            f"{escape(row.value_label)}</text>"
        )
    if reference:
        rx = x(reference[0])
        parts.append(
            f'<line class="ref" x1="{rx:.1f}" y1="{top - 6}" x2="{rx:.1f}" y2="{bottom}"/>'
            f'<text class="ref-label" x="{rx + 4:.1f}" y="{top - 10}">{escape(reference[1])}</text>'
        )
    parts.append(f'<line class="axis" x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{bottom}"/>')
    return svg_element(chart_id, width, height, title, desc, "".join(parts))


def stacked_chart(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, str | None, Sequence[int]]],
    categories: Sequence[str],
    colors: Sequence[str],
    *,
    width: int = 540,
) -> Markup:
    """One 100% bar per row, split by category, with the share written where it fits."""
    label_w = _label_width(label for label, _, _ in rows) + 12
    row_h, bar_h, top = 30, 20, 4
    plot_w = width - label_w - 8
    height = top + row_h * len(rows) + 4
    parts = []
    for i, (label, dot, counts) in enumerate(rows):
        y = top + i * row_h + (row_h - bar_h) / 2
        total = sum(counts) or 1
        if dot:
            parts.append(f'<circle cx="6" cy="{y + bar_h / 2:.1f}" r="5" fill="{dot}"/>')
        css = "label" if dot else "label strong"
        parts.append(
            f'<text class="{css}" x="{label_w - 10}" y="{y + bar_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        x = float(label_w)
        for category, color, count in zip(categories, colors, counts, strict=True):
            if count <= 0:
                continue
            share = count / total
            w = plot_w * share
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{color}"><title>{escape(label)}: {escape(category)} {percent(share)} '
                f"({thousands(count)} customers)</title></rect>"
            )
            if w >= 34:
                parts.append(
                    f'<text class="in-bar {ink_class(color)}" x="{x + w / 2:.1f}" '
                    f'y="{y + bar_h / 2 + 4:.1f}" text-anchor="middle">{share * 100:.0f}%</text>'
                )
            x += w
    return svg_element(chart_id, width, height, title, desc, "".join(parts))


def scatter_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[tuple[int, float, float]],
    *,
    revenue_format: Callable[[float], str] = compact,
    width: int = 1060,
    height: int = 440,
) -> Markup:
    """Recency (linear) against revenue (log) as dots, one path per segment; ``revenue_format``
    writes the revenue ticks (with the currency label).

    A dot is a zero-length path segment with a round cap: one ``<path>`` per segment keeps
    thousands of dots to a few dozen kilobytes.
    """
    left, right, top, bottom = 64, 16, 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    positive = [rev for _, _, rev in points if rev > 0]
    low = min(positive, default=1.0)
    high = max(positive, default=10.0)
    y0, y1 = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if y1 <= y0:
        y1 = y0 + 1
    x_ticks = round_ticks(max((rec for _, rec, _ in points), default=1.0))
    x_max = x_ticks[-1] or 1.0

    def px(recency: float) -> float:
        return left + plot_w * max(recency, 0.0) / x_max

    def py(revenue: float) -> float:
        value = math.log10(max(revenue, 10.0**y0))
        return top + plot_h * (1 - (value - y0) / (y1 - y0))

    parts = []
    for tick in x_ticks:
        parts.append(
            f'<line class="grid" x1="{px(tick):.1f}" y1="{top}" x2="{px(tick):.1f}" '
            f'y2="{top + plot_h}"/><text class="tick" x="{px(tick):.1f}" '
            f'y="{top + plot_h + 16}" text-anchor="middle">{compact(tick)}</text>'
        )
    for decade in range(y0, y1 + 1):
        for step in (1, 2, 5) if y1 - y0 <= 3 else (1,):
            value = step * 10.0**decade
            if value > 10.0**y1:
                continue
            css = "grid" if step == 1 else "grid minor"
            parts.append(
                f'<line class="{css}" x1="{left}" y1="{py(value):.1f}" x2="{left + plot_w}" '
                f'y2="{py(value):.1f}"/><text class="tick" x="{left - 8}" '
                f'y="{py(value) + 4:.1f}" text-anchor="end">{escape(revenue_format(value))}</text>'
            )
    by_segment: dict[int, list[str]] = {}
    for sid, recency, revenue in points:
        by_segment.setdefault(sid, []).append(f"M{px(recency):.1f} {py(revenue):.1f}h0")
    # Biggest segments first, so that small ones stay visible on top.
    for sid in sorted(by_segment, key=lambda s: (-len(by_segment[s]), s)):
        parts.append(
            f'<path class="dots" d="{"".join(by_segment[sid])}" stroke="{segment_color(sid)}">'
            f"<title>{escape(segment_label(sid))}: "
            f"{thousands(len(by_segment[sid]))} customers shown"
            "</title></path>"
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" '
        f'y2="{top + plot_h}"/>'
        f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 6}" '
        'text-anchor="middle">Days since the last purchase</text>'
        f'<text class="axis-title" transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        'text-anchor="middle">Lifetime revenue (log scale)</text>'
    )
    return svg_element(chart_id, width, height, title, desc, "".join(parts))


def k_chart(
    chart_id: str,
    title: str,
    desc: str,
    ks: Sequence[int],
    series: Sequence[tuple[str, str, str, Sequence[float | None]]],
    *,
    chosen: int | None,
    width: int = 560,
    height: int = 260,
) -> Markup:
    """Lines of quality figures over k, with the chosen k shaded."""
    left, right, top, bottom = 40, 16, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, _, _, vs in series for v in vs if v is not None]
    y_min = min(0.0, math.floor(min(values, default=0.0) * 4) / 4)
    step = plot_w / max(len(ks), 1)

    def px(i: int) -> float:
        return left + step * (i + 0.5)

    def py(value: float) -> float:
        return top + plot_h * (1 - (value - y_min) / (1.0 - y_min))

    parts = []
    if chosen in ks:
        i = list(ks).index(chosen)
        parts.append(
            f'<rect class="band" x="{px(i) - step / 2:.1f}" y="{top}" width="{step:.1f}" '
            f'height="{plot_h}"/><text class="band-label" x="{px(i):.1f}" y="{top + plot_h - 8}" '
            'text-anchor="middle">chosen</text>'
        )
    tick = y_min
    while tick <= 1.0 + 1e-9:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{py(tick):.1f}" x2="{left + plot_w}" '
            f'y2="{py(tick):.1f}"/><text class="tick" x="{left - 6}" y="{py(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.2f}</text>'
        )
        tick += 0.25
    for i, k in enumerate(ks):
        parts.append(
            f'<text class="tick" x="{px(i):.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{k}</text>'
        )
    for name, color, dash, vs in series:
        points = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        if not points:
            continue
        d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y) in enumerate(points))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path class="line" d="{d}" stroke="{color}"{dash_attr}><title>{escape(name)}</title>'
            "</path>"
            + "".join(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>' for x, y in points
            )
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/><text class="axis-title" x="{left + plot_w / 2:.1f}" '
        f'y="{height - 4}" text-anchor="middle">Number of segments (k)</text>'
    )
    return svg_element(chart_id, width, height, title, desc, "".join(parts))


def round_ticks(peak: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``peak`` (about ``count`` steps)."""
    if peak <= 0 or not math.isfinite(peak):
        return [0.0, 1.0]
    raw = peak / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude + 1e-12)
    n = math.ceil(peak / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _label_width(labels: Iterable[str]) -> int:
    return min(190, int(max((len(label) for label in labels), default=8) * 6.9) + 18)


def ink_class(color: str) -> str:
    """CSS class of the text colour that reads better on ``color``: dark or light."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "on-light" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "on-dark"


def segment_color(segment_id: int | None) -> str:
    """The segment's colour, the same in every report (from the catalogue). Charts also label
    every bar with the segment's name, so the colour is never the only cue."""
    return color_of(segment_id)


def segment_label(segment_id: int) -> str:
    return SEGMENT_NAMES.get(segment_id, f"Segment {segment_id}")
