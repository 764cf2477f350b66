"""What the report reads: the ``fct_customer_segments`` mart and the run's JSON files.

The mart is read with portable SQL only (count, sum, min, max, md5, group by, order by, limit)
through :meth:`Warehouse.fetch`, so the report works on DuckDB, PostgreSQL, Spark and Snowflake
alike, and nothing the engine is free to vary reaches the page:

* sums are taken over ``decimal(38, 10)``, and means are those exact sums divided in Python, so
  no engine's floating point adding order (DuckDB's parallel aggregation adds in a different
  order from run to run) can move a digit;
* the scatter sample is drawn by the engine, ordered by a hash of the customer id and the seed,
  so a mart of millions of customers sends at most :data:`MAX_SCATTER_POINTS` rows; the points
  are then put in the customer ids' code point order here, whatever the engine's collation.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from custseg.errors import CustsegError, first_line
from custseg.warehouses import Warehouse

#: Most customers drawn in the recency-vs-revenue scatter (keeps the file under about 150 KB).
MAX_SCATTER_POINTS = 3000
MART = "fct_customer_segments"
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
# Enough digits that adding decimal(38, 10) sums and dividing them never rounds before the
# final conversion to float (Python's default context keeps only 28).
_EXACT = decimal.Context(prec=80)


class ReportError(CustsegError):
    """The report cannot be built: no published model or mart yet, or unreadable inputs."""

    exit_code = 4


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
        """The mean of a :data:`PROFILE_MEASURES` measure."""
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
    # The scatter sample in drawing order: (segment id, days since last purchase, revenue).
    points: list[tuple[int, float, float]]


def read_mart(warehouse: Warehouse, *, max_points: int, random_state: int) -> MartFacts:
    """Aggregate ``fct_customer_segments`` and draw the scatter sample, all in SQL.

    Raises
    ------
    ReportError
        When the mart cannot be read (not built yet) or is empty.
    """
    mart = warehouse.relation(MART)
    segment_rows = _fetch(
        warehouse,
        f"select segment_id, segment_name, count(*), {_exact_sums()} from {mart} "
        "group by segment_id, segment_name",
    )
    if not segment_rows:
        raise ReportError(
            f"{MART} in {warehouse.describe()} is empty: run `custseg run` to publish segments."
        )
    (overall_row,) = _fetch(
        warehouse,
        f"select count(*), {_exact_sums()}, min(as_of_date), max(as_of_date) from {mart}",
    )
    segments = sorted(
        (_segment_facts(int(row[0]), str(row[1]), row[2:]) for row in segment_rows),
        key=lambda s: s.segment_id,
    )
    n_sums = 2 * len(PROFILE_MEASURES)
    mixes = {column: read_mix(warehouse, column) for column, _ in MIX_COLUMNS}
    return MartFacts(
        segments=segments,
        overall=_segment_facts(None, "All customers", overall_row[: 1 + n_sums]),
        as_of_dates=(_iso(overall_row[1 + n_sums]), _iso(overall_row[2 + n_sums])),
        mixes=mixes,
        points=read_scatter_sample(warehouse, max_points=max_points, random_state=random_state),
    )


def read_mix(warehouse: Warehouse, column: str) -> dict[int, dict[str, int]]:
    """Customers per segment and value of ``column``; missing and blank values are Unknown."""
    rows = _fetch(
        warehouse,
        f"select segment_id, {column}, count(*) from {warehouse.relation(MART)} "
        f"group by segment_id, {column}",
    )
    mix: dict[int, dict[str, int]] = {}
    for segment_id, value, count in rows:
        label = UNKNOWN if value is None or str(value).strip() == "" else str(value)
        bucket = mix.setdefault(int(segment_id), {})
        bucket[label] = bucket.get(label, 0) + int(count)
    return mix


def scatter_sample_sql(relation: str, *, max_points: int, random_state: int) -> str:
    """The query of the scatter sample: every customer when there are at most ``max_points``,
    else the ``max_points`` whose ``md5(customer_id || seed)`` comes first.

    The hash is a pure function of the id and the seed, so the sample does not depend on how
    the engine stores or scans the rows, and ``order by ... limit`` lets it keep only the first
    ``max_points`` while scanning. md5 writes lowercase hex on every engine, and digits sort
    before letters in every collation. ``customer_id`` breaks a tie only on a hash collision.
    """
    seed = int(random_state)
    return (
        f"select customer_id, segment_id, recency_days, lifetime_revenue from {relation} "
        f"order by md5(customer_id || '{seed}'), customer_id limit {int(max_points)}"
    )


def read_scatter_sample(
    warehouse: Warehouse, *, max_points: int, random_state: int
) -> list[tuple[int, float, float]]:
    """At most ``max_points`` customers' ``(segment id, recency, revenue)``, in the order the
    scatter draws them: code point order of the customer id (the same on every engine)."""
    rows = _fetch(
        warehouse,
        scatter_sample_sql(
            warehouse.relation(MART), max_points=max_points, random_state=random_state
        ),
    )
    ordered = sorted(rows, key=lambda row: str(row[0]))
    return [(int(sid), float(recency), float(revenue)) for _, sid, recency, revenue in ordered]


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


def _exact_sums() -> str:
    """Exact sum and count of each profile measure (count of values, as ``avg`` divides by)."""
    return ", ".join(
        f"sum(cast({column} as decimal(38, 10))), count({column})"
        for _, column, _, _ in PROFILE_MEASURES
    )


def _fetch(warehouse: Warehouse, sql: str) -> list[tuple]:
    try:
        return warehouse.fetch(sql)
    # Each engine raises its own exception types (duckdb, psycopg2, pyspark); any of them means
    # the mart is not there or not readable, which the user fixes the same way.
    except Exception as exc:
        first = first_line(exc)
        raise ReportError(
            f"Cannot read {MART} from {warehouse.describe()} ({type(exc).__name__}: "
            f"{first}). Run `custseg run` first, and point --duckdb-path/--target at the "
            "warehouse it used."
        ) from exc


def _segment_facts(segment_id: int | None, name: str, values: Sequence) -> SegmentFacts:
    """Facts from ``count(*)`` followed by the sum and count of each profile measure."""
    customers, *sums = values
    recency, orders, revenue, order_value = (
        _mean(sums[i], sums[i + 1]) for i in range(0, len(sums), 2)
    )
    return SegmentFacts(
        segment_id=segment_id,
        segment_name=name,
        customers=int(customers),
        revenue=_float(sums[4]),
        mean_recency_days=recency,
        mean_orders=orders,
        mean_revenue=revenue,
        mean_order_value=order_value,
    )


def _mean(total: object, count: object) -> float:
    """An exact sum over its count, rounded once to a float; 0 when there are no values."""
    if total is None or not count:
        return 0.0
    return float(_EXACT.divide(decimal.Decimal(total), decimal.Decimal(int(count))))  # type: ignore[arg-type]


def _float(value: object) -> float:
    """A SQL number (Decimal, float, int, None) as a float; None counts as 0."""
    return 0.0 if value is None else float(value)  # type: ignore[arg-type]


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
