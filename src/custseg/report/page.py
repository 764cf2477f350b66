"""A self-contained HTML report of the published segments: one file that works offline.

:func:`build_report` reads the published model (``segment_model.json``), its quality metrics
(``evaluation_metrics.json``), optionally the evidence for choosing k (``k_selection.json``) and
the ``fct_customer_segments`` mart, and writes one HTML file. Everything is inline: the CSS, the
summary data (a JSON block) and the charts (SVG, drawn by ``report_charts``). There is no
JavaScript, no font, image or stylesheet to fetch, and a Content-Security-Policy forbids the page
any network access, so it renders the same from ``file://``, an e-mail attachment or an
air-gapped laptop.

The mart is read with portable SQL only (count, sum, avg, min, max, group by) through
:meth:`Warehouse.fetch`, so the report works on every warehouse custseg supports. The scatter
plot draws at most :data:`MAX_SCATTER_POINTS` customers, drawn with a fixed seed, and the page
holds no timestamp but the model's as-of date: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from custseg.errors import CustsegError
from custseg.publish.atomic import write_bytes_atomic
from custseg.report.charts import (
    Bar,
    bar_chart,
    k_chart,
    scatter_chart,
    segment_color,
    stacked_chart,
)
from custseg.report.text import (
    amount,
    compact,
    escape,
    measure,
    number,
    percent,
    plain,
    thousands,
    whole_percent,
)
from custseg.settings import MODEL_FILE
from custseg.warehouses import Warehouse

__all__ = ["MAX_SCATTER_POINTS", "ReportError", "build_report", "read_json"]

#: Most customers drawn in the recency-vs-revenue scatter (keeps the file under about 150 KB).
MAX_SCATTER_POINTS = 3000
MART = "fct_customer_segments"

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
# Activity bands run from good to bad, so they get a green-to-red scale in their natural order.
ACTIVITY_ORDER: tuple[str, ...] = ("Active", "Recent", "Dormant", "Inactive")
ACTIVITY_COLORS: tuple[str, ...] = ("#1f9e89", "#8cc084", "#f2c14e", "#d1495b")
# Locations beyond this many go to "Other" so the legend stays readable.
MAX_CATEGORIES = 7
OTHER = "Other"
UNKNOWN = "Unknown"

# (measure, mart column, label, unit) of the four profile measures, in the order the model
# uses. The measure names the chart and how its values are written.
PROFILE_MEASURES: tuple[tuple[str, str, str, str], ...] = (
    ("days_since_last_purchase", "recency_days", "Recency", "days since the last purchase"),
    ("total_orders", "count_orders", "Orders", "orders per customer"),
    ("total_revenue", "lifetime_revenue", "Revenue", "lifetime revenue per customer"),
    ("avg_order_value", "avg_order_value", "Average order value", "revenue per order"),
)
# Mix column -> section label.
MIX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("gender", "Gender"),
    ("location", "Location"),
    ("activity_status", "Activity status"),
)


class ReportError(CustsegError):
    """The report cannot be built: no published model or mart yet, or unreadable inputs."""

    exit_code = 4


# --------------------------------------------------------------------------------------------
# Reading the inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentFacts:
    """Size, revenue and mean profile of one segment (or of all customers) in the mart."""

    segment_id: int | None
    segment_name: str
    customers: int
    revenue: float
    mean_recency_days: float
    mean_orders: float
    mean_revenue: float
    mean_order_value: float

    def mean(self, column: str) -> float:
        """The mean of a :data:`PROFILE_MEASURES` column."""
        return {
            "days_since_last_purchase": self.mean_recency_days,
            "total_orders": self.mean_orders,
            "total_revenue": self.mean_revenue,
            "avg_order_value": self.mean_order_value,
        }[column]


@dataclass(frozen=True)
class MartFacts:
    """Everything the report reads from ``fct_customer_segments``."""

    segments: list[SegmentFacts]
    overall: SegmentFacts
    # Smallest and largest as_of_date in the mart (equal in a healthy mart).
    as_of_dates: tuple[str, str]
    # Mix column -> segment id -> category -> customers.
    mixes: dict[str, dict[int, dict[str, int]]]
    # The scatter sample: (segment id, days since last purchase, lifetime revenue).
    points: list[tuple[int, float, float]]


def read_mart(warehouse: Warehouse, *, max_points: int, random_state: int) -> MartFacts:
    """Aggregate ``fct_customer_segments`` with portable SQL and draw the scatter sample.

    Raises
    ------
    ReportError
        When the mart cannot be read (not built yet) or is empty.
    """
    mart = warehouse.relation(MART)
    means = ", ".join(f"avg({column})" for _, column, _, _ in PROFILE_MEASURES)
    segment_rows = _fetch(
        warehouse,
        f"select segment_id, segment_name, count(*), sum(lifetime_revenue), {means} "
        f"from {mart} group by segment_id, segment_name",
    )
    if not segment_rows:
        raise ReportError(
            f"{MART} in {warehouse.describe()} is empty: run `custseg run` to publish segments."
        )
    (overall_row,) = _fetch(
        warehouse,
        f"select count(*), sum(lifetime_revenue), {means}, min(as_of_date), max(as_of_date) "
        f"from {mart}",
    )
    segments = sorted(
        (_segment_facts(int(row[0]), str(row[1]), row[2:]) for row in segment_rows),
        key=lambda s: s.segment_id,
    )
    overall = _segment_facts(None, "All customers", overall_row[:6])
    mixes = {}
    for column, _ in MIX_COLUMNS:
        mix: dict[int, dict[str, int]] = {}
        rows = _fetch(
            warehouse,
            f"select segment_id, {column}, count(*) from {mart} group by segment_id, {column}",
        )
        for segment_id, value, count in rows:
            label = UNKNOWN if value is None or str(value).strip() == "" else str(value)
            bucket = mix.setdefault(int(segment_id), {})
            bucket[label] = bucket.get(label, 0) + int(count)
        mixes[column] = mix
    rows = _fetch(
        warehouse,
        f"select customer_id, segment_id, recency_days, lifetime_revenue from {mart}",
    )
    return MartFacts(
        segments=segments,
        overall=overall,
        as_of_dates=(_iso(overall_row[6]), _iso(overall_row[7])),
        mixes=mixes,
        points=sample_points(rows, max_points=max_points, random_state=random_state),
    )


def sample_points(
    rows: Sequence[tuple], *, max_points: int, random_state: int
) -> list[tuple[int, float, float]]:
    """At most ``max_points`` of ``(customer id, segment id, recency, revenue)`` rows.

    Rows are put in customer-id order first (engines return them in any order), then drawn
    without replacement with ``random_state``: the same mart always gives the same sample.
    """
    ordered = sorted(rows, key=lambda row: str(row[0]))
    if len(ordered) > max_points:
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.choice(len(ordered), size=max_points, replace=False))
        ordered = [ordered[i] for i in keep]
    return [(int(sid), float(recency), float(revenue)) for _, sid, recency, revenue in ordered]


def _fetch(warehouse: Warehouse, sql: str) -> list[tuple]:
    try:
        return warehouse.fetch(sql)
    # Each engine raises its own exception types (duckdb, psycopg2, pyspark); any of them means
    # the mart is not there or not readable, which the user fixes the same way.
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise ReportError(
            f"Cannot read {MART} from {warehouse.describe()} ({type(exc).__name__}: "
            f"{first_line}). Run `custseg run` first, and point --duckdb-path/--target at the "
            "warehouse it used."
        ) from exc


def _segment_facts(segment_id: int | None, name: str, values: Sequence) -> SegmentFacts:
    customers, revenue, recency, orders, mean_revenue, order_value = values
    return SegmentFacts(
        segment_id=segment_id,
        segment_name=name,
        customers=int(customers),
        revenue=_float(revenue),
        mean_recency_days=_float(recency),
        mean_orders=_float(orders),
        mean_revenue=_float(mean_revenue),
        mean_order_value=_float(order_value),
    )


def _float(value: object) -> float:
    """SQL numbers (float, Decimal, int, None) as a float; None counts as 0."""
    return 0.0 if value is None else float(value)  # type: ignore[arg-type]


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def read_json(path: Path, what: str) -> dict:
    """A JSON object file of a run's outputs; ReportError when missing or unreadable."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"No {what} at {path}: run `custseg run` first.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"The {what} file {path} cannot be read ({exc}).") from exc
    if not isinstance(payload, dict):
        raise ReportError(f"The {what} file {path} does not hold a JSON object.")
    return payload


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def build_report(
    document: dict,
    metrics: Mapping,
    warehouse: Warehouse,
    out_path: Path,
    k_selection: Mapping | None = None,
    *,
    model_file: str = MODEL_FILE,
) -> Path:
    """Write the HTML report of the published segments and return its path.

    Parameters
    ----------
    document : dict
        The published model file's document (``custseg.model.model_file``).
    metrics : mapping
        Its ``evaluation_metrics.json``.
    warehouse : Warehouse
        An open warehouse holding the ``fct_customer_segments`` mart built from that model.
    out_path : Path
        The HTML file to write (atomically; its folder is created when missing).
    k_selection : mapping, optional
        ``k_selection.json`` of ``custseg evaluate`` or ``custseg run --k auto``; the report
        shows the evidence for choosing k when it is given.
    model_file : str
        The model file's name, shown on the page.

    Raises
    ------
    ReportError
        When the mart cannot be read (not built yet) or is empty.
    """
    random_state = int(document.get("model", {}).get("params", {}).get("random_state", 42))
    facts = read_mart(warehouse, max_points=MAX_SCATTER_POINTS, random_state=random_state)
    page = render_report(document, metrics, facts, k_selection, model_file=model_file)
    out_path = Path(out_path)
    write_bytes_atomic(out_path, page.encode("utf-8"))
    return out_path


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def render_report(
    document: dict,
    metrics: Mapping,
    facts: MartFacts,
    k_selection: Mapping | None = None,
    *,
    model_file: str = "segment_model.json",
) -> str:
    """The whole HTML page (a pure function of its inputs)."""
    metadata = document.get("metadata", {})
    model = document.get("model", {})
    as_of = str(metadata.get("as_of_date", facts.as_of_dates[1]))
    sections = [
        _overview_section(facts, model),
        _profile_section(facts),
        _scatter_section(facts, random_state=model.get("params", {}).get("random_state", 42)),
        _mix_section(facts),
        _k_section(
            k_selection,
            published_k=int((metadata.get("config") or {}).get("n_segments", len(facts.segments))),
            metadata=metadata,
        ),
        _model_card_section(document, metrics, model_file=model_file),
    ]
    title = f"Customer segments as of {as_of}"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            # The page may load nothing at all: inline styles and data: URLs only.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">\n",
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta name="generator" content="custseg ',
            escape(document.get("custseg_version", "")),
            '">\n<link rel="icon" href="data:,">\n',
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            _masthead(document, metrics, facts),
            _warnings(document, facts),
            '<main class="page">\n',
            *sections,
            "</main>\n",
            _footer(document, model_file),
            _data_block(document, metrics, facts, k_selection),
            "</body>\n</html>\n",
        ]
    )


def _masthead(document: dict, metrics: Mapping, facts: MartFacts) -> str:
    metadata = document.get("metadata", {})
    as_of = str(metadata.get("as_of_date", facts.as_of_dates[1]))
    overall = facts.overall
    silhouette = metrics.get("silhouette")
    kpis = [
        ("Customers", thousands(overall.customers)),
        ("Lifetime revenue", compact(overall.revenue)),
        ("Segments", str(len(facts.segments))),
        ("Silhouette", "n/a" if silhouette is None else f"{silhouette:.3f}"),
    ]
    top = max(facts.segments, key=lambda s: (s.revenue, -(s.segment_id or 0)))
    share = top.revenue / overall.revenue if overall.revenue else 0.0
    lede = (
        f"{thousands(overall.customers)} customers in {len(facts.segments)} segments, "
        "measured as of "
        f"{as_of}. {top.segment_name} bring {percent(share)} of the revenue with "
        f"{percent(top.customers / overall.customers)} of the customers."
    )
    nav = "".join(
        f'<a href="#{anchor}">{escape(label)}</a>'
        for anchor, label in (
            ("overview", "Sizes & revenue"),
            ("profiles", "Profiles"),
            ("scatter", "Recency vs revenue"),
            ("mix", "Who they are"),
            ("k-selection", "Choosing k"),
            ("model-card", "Model card"),
        )
    )
    return (
        '<header class="masthead"><div class="masthead-inner">'
        '<p class="eyebrow">custseg &middot; segment report</p>'
        f"<h1>Customer segments <span>as of {escape(as_of)}</span></h1>"
        f'<p class="lede">{escape(lede)}</p>'
        '<dl class="kpis">'
        + "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in kpis)
        + f'</dl><nav class="toc" aria-label="Sections">{nav}</nav></div></header>\n'
    )


def _warnings(document: dict, facts: MartFacts) -> str:
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
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return (
        '<div class="page"><div class="callout" role="alert"><strong>Read this first</strong>'
        f"<ul>{items}</ul></div></div>\n"
    )


def _overview_section(facts: MartFacts, model: Mapping) -> str:
    total_customers = facts.overall.customers or 1
    total_revenue = facts.overall.revenue or 1.0
    descriptions = {
        int(s.get("segment_id")): str(s.get("description", "")) for s in model.get("segments", [])
    }
    size_rows = [
        Bar(
            s.segment_name,
            segment_color(s.segment_id),
            s.customers / total_customers,
            f"{thousands(s.customers)} · {percent(s.customers / total_customers)}",
        )
        for s in facts.segments
    ]
    revenue_rows = [
        Bar(
            s.segment_name,
            segment_color(s.segment_id),
            s.revenue / total_revenue,
            f"{compact(s.revenue)} · {percent(s.revenue / total_revenue)}",
        )
        for s in facts.segments
    ]
    sizes = bar_chart(
        "chart-sizes",
        "Customers per segment",
        "Share of all customers in each segment; the label gives the count and the share.",
        size_rows,
        axis_format=whole_percent,
    )
    revenue = bar_chart(
        "chart-revenue",
        "Revenue per segment",
        "Share of lifetime revenue earned from each segment; the label gives the revenue and "
        "the share.",
        revenue_rows,
        axis_format=whole_percent,
    )
    body = []
    for s in facts.segments:
        customer_share = s.customers / total_customers
        revenue_share = s.revenue / total_revenue
        lift = revenue_share / customer_share if customer_share else 0.0
        body.append(
            f'<tr data-segment-id="{s.segment_id}" data-customers="{s.customers}" '
            f'data-revenue="{s.revenue:.2f}">'
            f'<th scope="row">{_swatch(s.segment_id)}{escape(s.segment_name)}'
            f'<span class="sub">{escape(descriptions.get(s.segment_id, ""))}</span></th>'
            f"<td>{thousands(s.customers)}</td><td>{percent(customer_share)}</td>"
            f"<td>{amount(s.revenue)}</td><td>{percent(revenue_share)}</td>"
            f"<td>{amount(s.mean_revenue)}</td><td>{lift:.2f}&times;</td></tr>"
        )
    o = facts.overall
    body.append(
        f'<tr class="total" data-customers="{o.customers}" data-revenue="{o.revenue:.2f}">'
        f'<th scope="row">All customers</th><td>{thousands(o.customers)}</td><td>100.0%</td>'
        f"<td>{amount(o.revenue)}</td><td>100.0%</td><td>{amount(o.mean_revenue)}</td>"
        "<td>1.00&times;</td></tr>"
    )
    table = (
        '<div class="table-wrap"><table class="data" id="segment-table">'
        "<caption>Segments in fct_customer_segments</caption><thead><tr>"
        '<th scope="col">Segment</th><th scope="col">Customers</th><th scope="col">Share</th>'
        '<th scope="col">Revenue</th><th scope="col">Revenue share</th>'
        '<th scope="col">Revenue per customer</th>'
        '<th scope="col" title="Revenue share divided by customer share">Value index</th>'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
    return _section(
        "overview",
        "Segment sizes and revenue",
        "How many customers each segment holds and how much of the revenue they bring. The value "
        "index is the revenue share divided by the customer share (1.00 = an average customer).",
        '<div class="grid2">'
        f"<figure><figcaption>Customers per segment</figcaption>{sizes}</figure>"
        f"<figure><figcaption>Revenue per segment</figcaption>{revenue}</figure>"
        f"</div>{table}",
    )


def _profile_section(facts: MartFacts) -> str:
    charts = []
    for column, _, label, unit in PROFILE_MEASURES:
        overall = facts.overall.mean(column)
        rows = [
            Bar(
                s.segment_name,
                segment_color(s.segment_id),
                s.mean(column),
                measure(column, s.mean(column)),
            )
            for s in facts.segments
        ]
        charts.append(
            f"<figure><figcaption>{escape(label)} <span>{escape(unit)}</span></figcaption>"
            + bar_chart(
                f"chart-profile-{column.replace('_', '-')}",
                f"Mean {label.lower()} by segment",
                f"Mean {unit} in each segment; the dashed line is the mean over all customers "
                f"({measure(column, overall)}).",
                rows,
                axis_format=compact,
                reference=(overall, f"all customers: {measure(column, overall)}"),
            )
            + "</figure>"
        )
    head = "".join(f'<th scope="col">{escape(label)}</th>' for _, _, label, _ in PROFILE_MEASURES)
    body = []
    for s in [*facts.segments, facts.overall]:
        cells = []
        for column, _, _, _ in PROFILE_MEASURES:
            overall = facts.overall.mean(column)
            index = 100.0 * s.mean(column) / overall if overall else None
            cells.append(
                f'<td class="{_index_class(index)}"><span class="idx">'
                f"{'n/a' if index is None else f'{index:.0f}'}</span>"
                f'<span class="sub">{escape(measure(column, s.mean(column)))}</span></td>'
            )
        name = (
            f"{_swatch(s.segment_id)}{escape(s.segment_name)}"
            if s.segment_id is not None
            else "All customers"
        )
        css = ' class="total"' if s.segment_id is None else ""
        body.append(f'<tr{css}><th scope="row">{name}</th>{"".join(cells)}</tr>')
    table = (
        '<div class="table-wrap"><table class="data index-table" id="profile-index">'
        "<caption>Profile index: segment mean &divide; overall mean &times; 100 (100 = average; "
        "for recency a high index means customers who have not bought for longer)</caption>"
        f'<thead><tr><th scope="col">Segment</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    return _section(
        "profiles",
        "Segment profiles against the average customer",
        "Mean recency, orders, revenue and order value of each segment. These are the measures "
        "the segments were named by.",
        f'<div class="grid2">{"".join(charts)}</div>{table}',
    )


def _scatter_section(facts: MartFacts, *, random_state: int) -> str:
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
    )
    legend = _legend((s.segment_name, segment_color(s.segment_id)) for s in facts.segments)
    sample = (
        f"All {thousands(total)} customers are shown."
        if shown >= total
        else f"{thousands(shown)} of {thousands(total)} customers are shown: a fixed random sample "
        f"(seed {random_state}), so the picture is the same every time."
    )
    return _section(
        "scatter",
        "Recency against revenue",
        "Each dot is a customer: further right means longer since the last purchase, higher "
        f"means more lifetime revenue (logarithmic scale). {sample}",
        f'<figure class="wide">{legend}{chart}</figure>',
    )


def _mix_section(facts: MartFacts) -> str:
    charts = []
    for column, label in MIX_COLUMNS:
        mix = facts.mixes.get(column, {})
        categories, colors = _categories(column, mix)
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
        charts.append(
            f"<figure><figcaption>{escape(label)}</figcaption>"
            f"{_legend(zip(categories, colors, strict=True))}{chart}</figure>"
        )
    return _section(
        "mix",
        "Who the customers are",
        "Gender and location from the customer file, and activity status by days since the "
        "last purchase (dbt vars activity_*_max_days; by default Active up to 30, Recent up to "
        "90, Dormant up to 180, else Inactive), as shares of each segment.",
        f'<div class="grid2">{"".join(charts)}</div>',
    )


def _k_section(k_selection: Mapping | None, *, published_k: int, metadata: Mapping) -> str:
    if not k_selection or not k_selection.get("evaluations"):
        return _section(
            "k-selection",
            "Choosing k",
            "No k_selection.json beside the model. Run `custseg evaluate` (or `custseg run --k "
            "auto`) to add the evidence for the number of segments: quality, bootstrap "
            "stability and the smallest segment for k = 2 to 5.",
            "",
        )
    evaluations = sorted(k_selection["evaluations"], key=lambda e: int(e["k"]))
    chosen = k_selection.get("chosen_k")
    rows = []
    for e in evaluations:
        unsupported = e.get("unsupported_names") or []
        names = "yes" if not unsupported else "no: " + ", ".join(map(str, unsupported))
        marks = []
        if e["k"] == chosen:
            marks.append('<span class="pill pill-accent">chosen</span>')
        if e["k"] == published_k:
            marks.append('<span class="pill">published</span>')
        rows.append(
            f'<tr data-k="{int(e["k"])}"><th scope="row">{int(e["k"])} {"".join(marks)}</th>'
            f"<td>{number(e.get('silhouette'), 3)}</td>"
            f"<td>{number(e.get('davies_bouldin'), 3)}</td>"
            f"<td>{number(e.get('inertia'), 1)}</td>"
            f"<td>{number(e.get('stability_ari_mean'), 3)}</td>"
            f"<td>{number(e.get('stability_ari_worst'), 3)}</td>"
            f"<td>{percent(float(e.get('smallest_segment_share', 0.0)))}</td>"
            f"<td>{escape(names)}</td></tr>"
        )
    table = (
        '<div class="table-wrap"><table class="data" id="k-table"><caption>Evidence per number '
        "of segments (ARI: adjusted Rand index of 80% subsample refits against the full fit)"
        '</caption><thead><tr><th scope="col">k</th><th scope="col">Silhouette</th>'
        '<th scope="col">Davies-Bouldin</th><th scope="col">Inertia</th>'
        '<th scope="col">ARI mean</th><th scope="col">ARI worst</th>'
        '<th scope="col">Smallest segment</th><th scope="col">Names supported</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    series = [
        ("Silhouette", "#3572c6", "", [e.get("silhouette") for e in evaluations]),
        ("Stability, ARI mean", "#1f9e89", "", [e.get("stability_ari_mean") for e in evaluations]),
        (
            "Stability, ARI worst",
            "#1f9e89",
            "5 4",
            [e.get("stability_ari_worst") for e in evaluations],
        ),
    ]
    chart = k_chart(
        "chart-k",
        "Quality and stability by number of segments",
        "Silhouette and bootstrap stability (adjusted Rand index, mean and worst) for each k; "
        "higher is better; the shaded column is the k the selection rule chose.",
        [int(e["k"]) for e in evaluations],
        series,
        chosen=chosen,
    )
    legend = _legend((name, color, dash) for name, color, dash, _ in series)
    reason = str(k_selection.get("reason", "")).strip().rstrip(".")
    notes = [f"{reason}." if reason else ""]
    n_selection = k_selection.get("n_customers")
    n_model = metadata.get("n_customers")
    if n_selection is not None and n_model is not None and int(n_selection) != int(n_model):
        notes.append(
            f"Note: this evaluation ran on {thousands(int(n_selection))} customers, the published "
            f"model on {thousands(int(n_model))}; run `custseg evaluate` again to refresh it."
        )
    if chosen is not None and chosen != published_k:
        automatic = (metadata.get("config") or {}).get("k_chosen_automatically")
        notes.append(
            f"The published model uses k = {published_k}"
            + (
                ", chosen by an evaluation other than this one."
                if automatic
                else ", set explicitly with --k."
            )
        )
    text = " ".join(n for n in notes if n)
    return _section(
        "k-selection",
        "Choosing k",
        f"The selection rule chooses k = {chosen if chosen is not None else 'none'}: {text}",
        f'<figure class="k-chart">{legend}{chart}</figure>{table}',
    )


def _model_card_section(document: dict, metrics: Mapping, *, model_file: str) -> str:
    metadata = document.get("metadata", {})
    model = document.get("model", {})
    integrity = document.get("integrity", {}).get("sha256", "")
    transforms = model.get("transforms", {})
    features = ", ".join(
        f"{name} ({transforms.get(name, 'identity')})" for name in model.get("cluster_features", [])
    )
    silhouette = metrics.get("silhouette")
    silhouette_text = "n/a" if silhouette is None else f"{silhouette:.3f}"
    if metrics.get("silhouette_sample_size"):
        silhouette_text += f" (on {thousands(int(metrics['silhouette_sample_size']))} customers)"
    if metrics.get("silhouette_note"):
        silhouette_text += f" ({metrics['silhouette_note']})"
    facts = [
        ("As-of date", metadata.get("as_of_date", "")),
        ("Customers", thousands(int(metadata.get("n_customers", 0) or 0))),
        ("Fitted on", thousands(int(model.get("n_customers_fit", 0) or 0)) + " customers"),
        ("Clustered on", f"{features}, standardized"),
        ("Initialisation", str(model.get("init_used", ""))),
        ("Data fingerprint", metadata.get("input_fingerprint", "")),
        ("Model file", f"{model_file} (format {document.get('format_version', '')})"),
        ("Model sha256", integrity),
        ("custseg version", document.get("custseg_version", "")),
    ]
    quality = [
        ("Segments (k)", str(metrics.get("k", len(model.get("segments", []))))),
        ("Silhouette", silhouette_text),
        ("Davies-Bouldin", number(metrics.get("davies_bouldin"), 3)),
        ("Inertia", number(metrics.get("inertia"), 1)),
    ]
    config = sorted((metadata.get("config") or {}).items())
    versions = sorted((metadata.get("library_versions") or {}).items())
    checks = {int(c.get("segment_id")): c for c in model.get("name_checks", [])}
    naming_rows = []
    for s in model.get("segments", []):
        sid = int(s.get("segment_id"))
        check = checks.get(sid, {})
        passed = check.get("passed")
        verdict = (
            '<span class="pill pill-ok">held</span>'
            if passed
            else '<span class="pill pill-bad">not met</span>'
            if passed is not None
            else ""
        )
        centre = s.get("centroid_original_units", {})
        centre_text = "<br>".join(
            escape(measure(column, float(centre[name])) + suffix)
            for name, (column, suffix) in _CENTROID_COLUMNS.items()
            if name in centre
        )
        naming_rows.append(
            f'<tr data-segment-id="{sid}"><th scope="row">{_swatch(sid)}'
            f"{escape(s.get('segment_name', ''))}</th>"
            f"<td>{escape(s.get('evidence', ''))}</td>"
            f"<td>{escape(check.get('rule', ''))}"
            f'<span class="sub">{escape(check.get("detail", ""))}</span></td><td>{verdict}</td>'
            f"<td>{centre_text}</td></tr>"
        )
    naming = (
        '<div class="table-wrap"><table class="data naming" id="naming-table">'
        "<caption>Why each segment has its name: the naming score that won the optimal "
        "assignment, and the rule its profile must then satisfy</caption><thead><tr>"
        '<th scope="col">Segment</th><th scope="col">Naming evidence</th>'
        '<th scope="col">Name check and the numbers that decided it</th>'
        '<th scope="col">Result</th><th scope="col">Centre</th>'
        f"</tr></thead><tbody>{''.join(naming_rows)}</tbody></table></div>"
    )
    matching = metadata.get("matching_previous_model")
    previous = (
        "first published model (nothing to match)"
        if not matching
        else (
            "definitions changed: " + str(matching.get("reason", ""))
            if matching.get("definitions_changed")
            else "ids kept from the previous model (largest centroid move "
            + number(
                max((m.get("distance", 0.0) for m in matching.get("matches", [])), default=0.0), 2
            )
            + " sd)"
        )
    )
    facts.append(("Previous model", previous))
    cards = (
        '<div class="grid3">'
        + _card("Data and model", facts, mono={"Data fingerprint", "Model sha256"})
        + _card("Quality", quality, note=QUALITY_NOTE)
        + _card("Configuration", [(k, plain(v)) for k, v in config])
        + _card("Library versions", [(k, str(v)) for k, v in versions])
        + "</div>"
    )
    return _section(
        "model-card",
        "Model card",
        "What was fitted, on which data, with which settings, how good it is, and why each "
        "segment carries its name. The fingerprint identifies the exact input (customer ids and "
        "features); the sha256 is the model file's integrity hash.",
        cards + naming,
    )


QUALITY_NOTE = (
    "Silhouette runs from -1 to 1: how much closer customers are to their own segment than to "
    "the next one (a common rule of thumb: above 0.25 weak, 0.5 reasonable, 0.7 strong "
    "structure; customer behaviour is a continuum, so segments touch). "
    "Davies-Bouldin compares each segment's spread with its distance to the nearest other "
    "segment: lower is better. Inertia is the sum of squared distances to the segment centres "
    "in the standardized space, comparable only between fits on the same data."
)
# Clustering feature -> (mart column whose format its centroid takes, suffix), in display order.
_CENTROID_COLUMNS = {
    "recency_days": ("days_since_last_purchase", ""),
    "count_orders": ("total_orders", ""),
    "avg_order_value": ("avg_order_value", " per order"),
}


def _footer(document: dict, model_file: str) -> str:
    return (
        '<footer class="page footer">Generated by custseg '
        f"{escape(document.get('custseg_version', ''))} from {escape(model_file)} and {MART}. "
        "This page is self-contained: it needs no network access and can be shared as a single "
        "file.</footer>\n"
    )


def _data_block(
    document: dict, metrics: Mapping, facts: MartFacts, k_selection: Mapping | None
) -> str:
    """The report's numbers as JSON, for scripts (never executed: type application/json)."""
    payload = {
        "as_of_date": document.get("metadata", {}).get("as_of_date"),
        "model_sha256": document.get("integrity", {}).get("sha256"),
        "segments": [_rounded(asdict(s)) for s in facts.segments],
        "overall": _rounded(asdict(facts.overall)),
        "mixes": {
            column: {str(sid): dict(sorted(counts.items())) for sid, counts in mix.items()}
            for column, mix in facts.mixes.items()
        },
        "scatter_points": len(facts.points),
        "metrics": {k: metrics.get(k) for k in ("silhouette", "davies_bouldin", "inertia", "k")},
        "chosen_k": None if k_selection is None else k_selection.get("chosen_k"),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, allow_nan=False)
    # "<" cannot end the script element early once escaped.
    text = text.replace("<", "\\u003c")
    return f'<script type="application/json" id="custseg-report-data">{text}</script>\n'


def _rounded(values: dict) -> dict:
    # SQL sums of floats can differ in the last bits between runs; 6 decimals are stable.
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------


def _section(anchor: str, title: str, intro: str, body: str) -> str:
    return (
        f'<section id="{anchor}" aria-labelledby="{anchor}-h"><h2 id="{anchor}-h">{escape(title)}'
        f'</h2><p class="intro">{escape(intro)}</p>{body}</section>\n'
    )


def _card(
    title: str,
    items: Iterable[tuple[str, object]],
    mono: set[str] | None = None,
    note: str = "",
) -> str:
    mono = mono or set()
    mono_class = ' class="mono"'
    rows = "".join(
        f"<div><dt>{escape(k)}</dt><dd{mono_class if k in mono else ''}>{escape(str(v))}</dd></div>"
        for k, v in items
    )
    note_html = f'<p class="card-note">{escape(note)}</p>' if note else ""
    return (
        f'<div class="card"><h3>{escape(title)}</h3><dl class="facts">{rows}</dl>{note_html}</div>'
    )


def _legend(items: Iterable[tuple]) -> str:
    entries = []
    for item in items:
        label, color = item[0], item[1]
        dash = item[2] if len(item) > 2 else None
        if dash is None:
            mark = f'<span class="key" style="background:{escape(color)}"></span>'
        else:
            dash_attr = f' stroke-dasharray="{escape(dash)}"' if dash else ""
            mark = (
                f'<svg class="key-line" viewBox="0 0 22 10" aria-hidden="true"><line x1="1" '
                f'y1="5" x2="21" y2="5" stroke="{escape(color)}" stroke-width="2.5"{dash_attr}/>'
                "</svg>"
            )
        entries.append(f"<li>{mark}{escape(label)}</li>")
    return f'<ul class="legend">{"".join(entries)}</ul>'


def _swatch(segment_id: int | None) -> str:
    color = segment_color(segment_id)
    return f'<span class="key" style="background:{color}" aria-hidden="true"></span>'


def _index_class(index: float | None) -> str:
    if index is None:
        return "i0"
    for bound, css in ((150, "ih2"), (115, "ih1"), (87, "i0"), (67, "il1")):
        if index >= bound:
            return css
    return "il2"


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


CSS = """
:root{--ink:#1f2933;--muted:#5b6775;--line:#e3e8ef;--bg:#f4f6f9;--card:#fff;--accent:#3572c6}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
"Liberation Sans",sans-serif;font-variant-numeric:tabular-nums}
.page{max-width:1120px;margin:0 auto;padding:0 24px}
.masthead{background:#17212e;color:#eef2f7;padding:32px 0 0}
.masthead-inner{max-width:1120px;margin:0 auto;padding:0 24px}
.eyebrow{margin:0;text-transform:uppercase;letter-spacing:.12em;font-size:12px;color:#9fb3c8}
h1{margin:6px 0 8px;font-size:30px;font-weight:650;letter-spacing:-.01em}
h1 span{font-weight:400;color:#9fb3c8}
.lede{margin:0;max-width:760px;color:#cbd5e1}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:22px 0 0}
.kpis div{background:#223044;border-radius:10px;padding:12px 16px}
.kpis dt{font-size:12px;color:#9fb3c8;text-transform:uppercase;letter-spacing:.08em}
.kpis dd{margin:2px 0 0;font-size:26px;font-weight:650;color:#fff}
.toc{display:flex;flex-wrap:wrap;gap:4px 20px;margin-top:18px;padding:12px 0 14px;
border-top:1px solid #2c3b50}
.toc a{color:#cbd5e1;text-decoration:none;font-size:14px}
.toc a:hover{color:#fff;text-decoration:underline}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:22px 26px 24px;margin:22px 0}
h2{margin:0 0 4px;font-size:20px;font-weight:650}
h3{margin:0 0 8px;font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted)}
.intro{margin:0 0 16px;color:var(--muted);max-width:900px}
figure{margin:0;min-width:0}
figcaption{font-weight:650;margin-bottom:6px}
figcaption span{font-weight:400;color:var(--muted)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px 32px;margin-bottom:8px}
.grid3{display:grid;grid-template-columns:1.4fr 1fr;gap:16px;margin-bottom:18px}
.k-chart{max-width:560px}
#k-table tbody th{white-space:nowrap}
#k-table td:last-child,#k-table thead th:last-child{text-align:left;white-space:normal}
.chart{display:block;width:100%;height:auto;overflow:visible}
.chart text{font-size:12.5px;fill:#3e4c59}
.chart .label{fill:var(--ink)}
.chart .strong{font-weight:650}
.chart .value,.chart .ref-label{paint-order:stroke;stroke:#fff;stroke-width:3px;
stroke-linejoin:round}
.chart .value{fill:var(--muted)}
.chart .tick{font-size:11px;fill:#7b8794}
.chart .grid{stroke:#e9edf2;stroke-width:1}
.chart .grid.minor{stroke:#f3f5f8}
.chart .axis{stroke:#9aa5b1;stroke-width:1}
.chart .ref{stroke:#1f2933;stroke-width:1.2;stroke-dasharray:4 3}
.chart .ref-label{font-size:11px;fill:#1f2933;font-weight:600}
.chart .in-bar{font-size:11px;font-weight:600}
.chart .on-light{fill:#1f2933}.chart .on-dark{fill:#fff}
.chart .axis-title{font-size:12px;fill:var(--muted)}
.chart .dots{fill:none;stroke-width:4.2;stroke-linecap:round;stroke-opacity:.62}
.chart .line{fill:none;stroke-width:2.2}
.chart .band{fill:#fff4d6}
.chart .band-label{font-size:11px;fill:#8a6d1d;font-weight:600}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;margin:0 0 8px;padding:0;
font-size:13px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.key{display:inline-block;width:11px;height:11px;border-radius:3px;flex:none;margin-right:8px;
vertical-align:-1px}
.legend .key{margin-right:0}
.key-line{width:22px;height:10px}
.table-wrap{overflow-x:auto}
table.data{width:100%;border-collapse:collapse;font-size:14px;margin-top:12px}
table.data caption{text-align:left;color:var(--muted);font-size:13px;padding-bottom:6px}
table.data th,table.data td{padding:8px 10px;border-bottom:1px solid var(--line);
vertical-align:top}
table.data thead th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;
color:var(--muted);font-weight:600;text-align:right;border-bottom:2px solid var(--line)}
table.data thead th:first-child{text-align:left}
table.data td{text-align:right;white-space:nowrap}
table.data tbody th{text-align:left;font-weight:600}
table.data tr.total th,table.data tr.total td{font-weight:650;background:#f8fafc}
.sub{display:block;font-weight:400;color:var(--muted);font-size:12.5px}
.index-table td,.index-table thead th{text-align:center;width:17%}
.index-table thead th:first-child{text-align:left}
.idx{display:block;font-size:17px;font-weight:650}
.ih2{background:#d6e6fb}.ih1{background:#eaf2fd}.i0{background:transparent}
.il1{background:#fdf0e2}.il2{background:#fbdcc0}
table.naming td,table.naming thead th{text-align:left;white-space:normal}
table.naming tbody th{min-width:150px}
table.naming td:first-of-type{min-width:180px}
table.naming td:nth-of-type(2){min-width:340px}
table.naming td .sub{margin-top:4px}
table.naming td:last-child{white-space:nowrap}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;
font-weight:600;background:#e9edf2;color:#3e4c59;vertical-align:1px}
.pill-accent{background:#fff0c2;color:#7a5b00}
.pill-ok{background:#d9f2e6;color:#146c43}
.pill-bad{background:#fbdada;color:#9b1c1c}
.card{border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.facts{margin:0;display:grid;grid-template-columns:auto 1fr;gap:6px 14px;font-size:14px}
.facts div{display:contents}
.facts dt{color:var(--muted)}
.facts dd{margin:0;overflow-wrap:anywhere}
.card-note{margin:12px 0 0;color:var(--muted);font-size:13px}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:12.5px}
.callout{margin:22px 0 0;border:1px solid #f0c36d;background:#fff8e6;border-radius:10px;
padding:12px 18px}
.callout ul{margin:6px 0 0;padding-left:20px}
.footer{color:var(--muted);font-size:13px;padding-bottom:32px}
@media (max-width:820px){.grid2,.grid3{grid-template-columns:1fr}
.kpis{grid-template-columns:repeat(2,1fr)}}
@media print{body{background:#fff}.masthead{background:#fff;color:var(--ink)}
.kpis div{background:#f4f6f9}.kpis dd{color:var(--ink)}.toc{display:none}
section{break-inside:avoid;border:none;padding:8px 0}}
"""
