"""What the page shows about the mart: the template context of its data sections.

Each function turns :class:`MartFacts` (and the model document where a section needs it) into
the plain values one part of ``templates/report.html.j2`` lays out: numbers already written as
text, and charts as SVG markup (``markupsafe.Markup``, drawn by :mod:`custseg.report.charts`).
Everything else is text, escaped by the template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from custseg.catalogue import SEGMENT_TYPES
from custseg.report.charts import Bar, bar_chart, scatter_chart, segment_color, stacked_chart
from custseg.report.data import MART, MIX_COLUMNS, PROFILE_MEASURES, UNKNOWN, MartFacts
from custseg.report.text import (
    MONEY_MEASURES,
    Money,
    measure,
    measure_axis,
    percent,
    thousands,
    whole_percent,
)
from custseg.report.verdicts import (
    BAD,
    GOOD,
    LEGEND_TITLE,
    STRONG_BAD,
    STRONG_GOOD,
    VERDICTS,
    measure_verdict,
    verdict,
)

# Categories of a mix (location, gender): a qualitative palette apart from the segment colours.
CATEGORY_COLORS: tuple[str, ...] = (
    "#2f4b7c",
    "#f2a541",
    "#7aa6c2",
    "#c8553d",
    "#588b8b",
    "#b8b08d",
    "#6d597a",
    "#c9cbd1",
)
# Activity bands run from good to bad, so they take the good-to-bad scale of the comparisons
# with the average (blue better, orange-red worse), in their natural order.
ACTIVITY_ORDER: tuple[str, ...] = ("Active", "Recent", "Dormant", "Inactive")
ACTIVITY_COLORS: tuple[str, ...] = (STRONG_GOOD, GOOD, BAD, STRONG_BAD)
# Mix columns that describe who the customers are, from the customer file: an order log has
# none of them, and their panels are then left out.
DEMOGRAPHIC_COLUMNS: tuple[str, ...] = ("gender", "location")
# Locations beyond this many go to "Other" so the legend stays readable.
MAX_CATEGORIES = 7
OTHER = "Other"


def masthead(document: Mapping, metrics: Mapping, facts: MartFacts, money: Money) -> dict:
    """Title, lede and key figures of the page's header."""
    overall = facts.overall
    silhouette = metrics.get("silhouette")
    top = max(facts.segments, key=lambda s: (s.revenue, -(s.segment_id or 0)))
    share = top.revenue / overall.revenue if overall.revenue else 0.0
    return {
        "as_of": as_of_date(document, facts),
        "customers": thousands(overall.customers),
        "n_segments": len(facts.segments),
        "top_name": top.segment_name,
        "top_revenue_share": percent(share),
        "top_customer_share": percent(top.customers / overall.customers),
        "kpis": [
            ("Customers", thousands(overall.customers)),
            ("Lifetime revenue", money.compact(overall.revenue)),
            ("Segments", str(len(facts.segments))),
            ("Silhouette", "n/a" if silhouette is None else f"{silhouette:.3f}"),
        ],
    }


def as_of_date(document: Mapping, facts: MartFacts) -> str:
    """The model's as-of date; the mart's when the model does not say."""
    return str(document.get("metadata", {}).get("as_of_date", facts.as_of_dates[1]))


def warnings(document: Mapping, facts: MartFacts) -> list[str]:
    """What the reader must know before trusting the page (usually nothing)."""
    metadata = document.get("metadata", {})
    notes = []
    for check in document.get("model", {}).get("name_checks", []):
        if not check.get("passed", True):
            notes.append(
                f"Segment {check.get('segment_id')} '{check.get('segment_name')}' is not "
                f"supported by its profile: {check.get('detail')}"
            )
    expected = metadata.get("n_customers")
    if expected is not None and int(expected) != facts.overall.customers:
        notes.append(
            f"The model segmented {thousands(int(expected))} customers but {MART} holds "
            f"{thousands(facts.overall.customers)}: the mart and the model may come from different "
            "runs."
        )
    as_of = metadata.get("as_of_date")
    if as_of is not None and facts.as_of_dates != (str(as_of), str(as_of)):
        low, high = facts.as_of_dates
        notes.append(
            f"The model is as of {as_of} but {MART} is as of "
            f"{low if low == high else f'{low} to {high}'}."
        )
    matching = metadata.get("matching_previous_model") or {}
    if matching.get("definitions_changed"):
        notes.append(
            "Segment definitions changed against the previously published model "
            f"({matching.get('reason')}); names come from the naming rules alone."
        )
    return notes


def overview(facts: MartFacts, model: Mapping, money: Money) -> dict:
    """Sizes and revenue: two bar charts and the segment table, with each segment's meaning and
    recommended action (from the catalogue; empty for an id it does not know)."""
    total_customers = facts.overall.customers or 1
    total_revenue = facts.overall.revenue or 1.0
    descriptions = {
        int(s.get("segment_id")): str(s.get("description", "")) for s in model.get("segments", [])
    }
    sizes = bar_chart(
        "chart-sizes",
        "Customers per segment",
        "Share of all customers in each segment; the label gives the count and the share.",
        [
            Bar(
                s.segment_name,
                segment_color(s.segment_id),
                s.customers / total_customers,
                f"{thousands(s.customers)} · {percent(s.customers / total_customers)}",
            )
            for s in facts.segments
        ],
        axis_format=whole_percent,
    )
    revenue = bar_chart(
        "chart-revenue",
        "Revenue per segment",
        "Share of lifetime revenue earned from each segment; the label gives the revenue and "
        "the share.",
        [
            Bar(
                s.segment_name,
                segment_color(s.segment_id),
                s.revenue / total_revenue,
                f"{money.compact(s.revenue)} · {percent(s.revenue / total_revenue)}",
            )
            for s in facts.segments
        ],
        axis_format=whole_percent,
    )
    rows = []
    for s in facts.segments:
        customer_share = s.customers / total_customers
        revenue_share = s.revenue / total_revenue
        value_index = revenue_share / customer_share if customer_share else 0.0
        judged = verdict(value_index, 1.0, higher_is_better=True)
        rows.append(
            {
                "segment_id": s.segment_id,
                "color": segment_color(s.segment_id),
                "name": s.segment_name,
                "description": descriptions.get(s.segment_id, ""),
                "action": SEGMENT_TYPES[s.segment_id].action
                if s.segment_id in SEGMENT_TYPES
                else "",
                "customers": s.customers,
                "revenue": f"{s.revenue:.2f}",
                "customers_text": thousands(s.customers),
                "customer_share": percent(customer_share),
                "revenue_text": money.amount(s.revenue),
                "revenue_share": percent(revenue_share),
                "mean_revenue": money.amount(s.mean_revenue),
                "value_index": f"{value_index:.2f}",
                "value_css": judged.css,
                "value_verdict": judged.label,
            }
        )
    o = facts.overall
    total = {
        "customers": o.customers,
        "revenue": f"{o.revenue:.2f}",
        "customers_text": thousands(o.customers),
        "revenue_text": money.amount(o.revenue),
        "mean_revenue": money.amount(o.mean_revenue),
    }
    return {"sizes_chart": sizes, "revenue_chart": revenue, "rows": rows, "total": total}


def profiles(facts: MartFacts, money: Money) -> dict:
    """Mean profile of each segment: one bar chart per measure and the index table, whose
    cells are coloured by whether the segment is better or worse than the average customer."""
    charts = []
    for column, _, label, unit in PROFILE_MEASURES:
        overall = facts.overall.mean(column)
        unit_text = unit + (money.unit() if column in MONEY_MEASURES else "")
        chart = bar_chart(
            f"chart-profile-{column.replace('_', '-')}",
            f"Mean {label.lower()} by segment",
            f"Mean {unit_text} in each segment; the dashed line is the mean over all customers "
            f"({measure(column, overall, money)}).",
            [
                Bar(
                    s.segment_name,
                    segment_color(s.segment_id),
                    s.mean(column),
                    measure(column, s.mean(column), money),
                )
                for s in facts.segments
            ],
            axis_format=measure_axis(column, money),
            reference=(overall, f"all customers: {measure(column, overall, money)}"),
        )
        charts.append({"label": label, "unit": unit_text, "chart": chart})
    rows = []
    for s in [*facts.segments, facts.overall]:
        cells = []
        for column, _, _, _ in PROFILE_MEASURES:
            overall = facts.overall.mean(column)
            index = 100.0 * s.mean(column) / overall if overall else None
            judged = measure_verdict(column, s.mean(column), overall)
            cells.append(
                {
                    "css": judged.css,
                    "verdict": judged.label,
                    "index": "n/a" if index is None else f"{index:.0f}",
                    "value": measure(column, s.mean(column), money),
                }
            )
        rows.append(
            {
                "total": s.segment_id is None,
                "color": segment_color(s.segment_id),
                "name": s.segment_name,
                "cells": cells,
            }
        )
    return {
        "charts": charts,
        "labels": [label for _, _, label, _ in PROFILE_MEASURES],
        "rows": rows,
    }


def scatter(facts: MartFacts, *, random_state: object, money: Money) -> dict:
    """Recency against revenue: the dots of the sample, its legend and how it was drawn."""
    total = facts.overall.customers
    shown = len(facts.points)
    chart = scatter_chart(
        "chart-scatter",
        "Recency against lifetime revenue, by segment",
        f"One dot per customer ({thousands(shown)} of {thousands(total)}), "
        "days since the last purchase "
        "on the horizontal axis, lifetime revenue on a logarithmic vertical axis, coloured by "
        "segment.",
        facts.points,
        revenue_format=money.compact,
    )
    return {
        "chart": chart,
        "legend": [legend_key(s.segment_name, segment_color(s.segment_id)) for s in facts.segments],
        "all_shown": shown >= total,
        "shown": thousands(shown),
        "total": thousands(total),
        "random_state": random_state,
    }


def mixes(facts: MartFacts) -> dict:
    """Who the customers are: a stacked chart and its legend per mix column.

    A demographic column (gender, location) that is unknown for every customer (an order log
    without a customer file) gets no panel at all: ``hidden`` names it, so the section can say
    why it is missing. Activity status comes from the orders and is always shown.
    """
    figures, hidden = [], []
    for column, label in MIX_COLUMNS:
        mix = facts.mixes.get(column, {})
        categories, colors = _categories(column, mix)
        if column in DEMOGRAPHIC_COLUMNS and set(categories) <= {UNKNOWN}:
            hidden.append(label.lower())
            continue
        rows = []
        for s in [*facts.segments, None]:
            if s is None:
                counts = _merge(mix.values())
                name, color = "All customers", None
            else:
                counts = mix.get(s.segment_id, {})
                name, color = s.segment_name, segment_color(s.segment_id)
            rows.append((name, color, _fold(counts, categories)))
        chart = stacked_chart(
            f"chart-mix-{column.replace('_', '-')}",
            f"{label} mix by segment",
            f"Share of each {label.lower()} among the customers of each segment, and among all "
            "customers.",
            rows,
            categories,
            colors,
        )
        figures.append(
            {
                "column": column,
                "label": label,
                "demographic": column in DEMOGRAPHIC_COLUMNS,
                "legend": [
                    legend_key(c, color) for c, color in zip(categories, colors, strict=True)
                ],
                "chart": chart,
            }
        )
    return {"figures": figures, "hidden": hidden}


def verdict_legend() -> dict:
    """The legend of the colours that compare a figure with the average customer."""
    return {"title": LEGEND_TITLE, "keys": [legend_key(v.label, v.color) for v in VERDICTS]}


def legend_key(label: str, color: str, dash: str | None = None) -> dict:
    """One legend entry: a colour square, or a line (``dash``: "" solid, else its pattern)."""
    return {"label": label, "color": color, "dash": dash}


def _categories(column: str, mix: Mapping[int, Mapping[str, int]]) -> tuple[list[str], list[str]]:
    """The categories of a mix in display order, with their colours."""
    totals = _merge(mix.values())
    if column == "activity_status":
        known = [c for c in ACTIVITY_ORDER if c in totals]
        extra = sorted(c for c in totals if c not in ACTIVITY_ORDER)
        colors = [ACTIVITY_COLORS[ACTIVITY_ORDER.index(c)] for c in known]
        colors += [CATEGORY_COLORS[-1]] * len(extra)
        return known + extra, colors
    ordered = sorted(totals, key=lambda c: (c in (UNKNOWN, OTHER), -totals[c], c))
    if len(ordered) > MAX_CATEGORIES:
        ordered = [*[c for c in ordered if c != OTHER][: MAX_CATEGORIES - 1], OTHER]
    colors = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in range(len(ordered))]
    return ordered, colors


def _merge(mixes: Iterable[Mapping[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in mixes:
        for category, count in counts.items():
            totals[category] = totals.get(category, 0) + count
    return totals


def _fold(counts: Mapping[str, int], categories: Sequence[str]) -> list[int]:
    """Counts in ``categories`` order, everything else added to the last ('Other')."""
    values = [counts.get(c, 0) for c in categories]
    if categories and categories[-1] == OTHER:
        values[-1] += sum(n for c, n in counts.items() if c not in categories)
    return values
