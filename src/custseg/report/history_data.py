"""What the report reads from the warehouse's history: segments over time, moves, drift, at-risk.

The history models (``dbt_pipeline/models/history``) are read with portable SQL through
:meth:`Warehouse.fetch`, as :mod:`custseg.report.data` reads the mart. The report must still
draw from a warehouse an older custseg built, where some of them do not exist yet, and from one
whose history holds a single as-of date: each table is read on its own, and one that is missing
or cannot be read is named in :attr:`HistoryFacts.unavailable` with the reason, so the page can
say what to run instead of failing. What is read is small: counts per as-of date and segment,
one transition matrix, the latest drift figures and the first rows of the at-risk list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from custseg.errors import first_line
from custseg.monitoring.at_risk import CANDIDATE_COLUMNS, AtRiskCandidate
from custseg.warehouses import Warehouse, as_date

MEMBERSHIPS = "segment_memberships"
TRANSITIONS = "fct_segment_transitions"
FEATURE_DRIFT = "fct_feature_drift"
SEGMENT_DRIFT = "fct_segment_drift"
AT_RISK_CANDIDATES = "fct_at_risk_candidates"
#: The history tables the report reads, in the order it reads them (custseg.history.HISTORY_TABLES
#: are those a publication copies; the report may not import that layer).
REPORTED_TABLES: tuple[str, ...] = (
    MEMBERSHIPS,
    TRANSITIONS,
    FEATURE_DRIFT,
    SEGMENT_DRIFT,
    AT_RISK_CANDIDATES,
)
#: Rows of the at-risk list the page shows.
AT_RISK_ROWS = 10
#: fct_feature_drift's ``compared_with`` values.
AGAINST_TRAINING = "training data"
AGAINST_PREVIOUS = "previous as-of date"
#: The clustering features, in the model's order (fct_segment_drift's ``movement_*`` columns).
DRIFT_FEATURES: tuple[str, ...] = ("recency_days", "count_orders", "avg_order_value")

T = TypeVar("T")


@dataclass(frozen=True)
class SegmentCount:
    """Customers of one segment at one as-of date (``segment_memberships``)."""

    as_of_date: str
    segment_id: int
    segment_name: str
    customers: int


@dataclass(frozen=True)
class Transition:
    """One cell of a transition matrix: customers who moved ``from`` -> ``to`` and the
    probability of that move given the from-state (ids -1 and -2: not yet a customer, left)."""

    from_id: int
    from_name: str
    to_id: int
    to_name: str
    customers: int
    probability: float


@dataclass(frozen=True)
class TransitionPeriod:
    """The moves between two consecutive as-of dates (the latest ``'period'`` pair)."""

    from_as_of_date: str
    to_as_of_date: str
    cells: tuple[Transition, ...]


@dataclass(frozen=True)
class FeatureDrift:
    """A clustering feature's PSI at the latest as-of date against one reference."""

    compared_with: str
    compared_as_of_date: str | None
    feature: str
    psi: float


@dataclass(frozen=True)
class SegmentDrift:
    """One segment at the latest as-of date (``fct_segment_drift``)."""

    segment_id: int
    segment_name: str
    customers: int
    share: float
    previous_as_of_date: str | None
    # None at the first as-of date of the history.
    share_shift: float | None
    training_share: float | None
    shift_from_training: float | None
    # Of the customers of both dates, the share who kept their segment (None: first date).
    kept_share: float | None
    # Change of the segment's centre since the previous date, per DRIFT_FEATURES feature.
    movement: Mapping[str, float | None]


@dataclass(frozen=True)
class DriftFacts:
    """The drift figures of one as-of date (the latest of the history)."""

    as_of_date: str
    features: tuple[FeatureDrift, ...]
    segments: tuple[SegmentDrift, ...]


@dataclass(frozen=True)
class AtRiskFacts:
    """The first rows of the at-risk list and how many customers it ranks (0: empty)."""

    as_of_date: str | None
    count_candidates: int
    top: tuple[AtRiskCandidate, ...]


@dataclass(frozen=True)
class HistoryFacts:
    """Everything the report reads from the history; None where a table was not read."""

    # Customers per as-of date and segment, by date then segment id.
    counts: tuple[SegmentCount, ...] | None = None
    # The latest pair of consecutive dates; None also when the history has one date only.
    transitions: TransitionPeriod | None = None
    drift: DriftFacts | None = None
    at_risk: AtRiskFacts | None = None
    # Table -> why it was not read (missing: an older warehouse; unreadable: the error).
    unavailable: Mapping[str, str] = field(default_factory=dict)

    @property
    def as_of_dates(self) -> tuple[str, ...]:
        """The as-of dates of the history, ascending (none when it was not read)."""
        return tuple(sorted({c.as_of_date for c in self.counts or ()}))


#: The history of a warehouse that holds none of its tables (the page says how to start it).
NO_HISTORY = HistoryFacts(
    unavailable=dict.fromkeys(REPORTED_TABLES, "not in the warehouse"),
)


def read_history(warehouse: Warehouse, *, at_risk_rows: int = AT_RISK_ROWS) -> HistoryFacts:
    """Read the history tables the report shows; never raises for a missing or unreadable one.

    An unavailable table is recorded in :attr:`HistoryFacts.unavailable` and its part is None.
    """
    unavailable: dict[str, str] = {}

    def read(table: str, reader: Callable[[Warehouse, str], T]) -> T | None:
        try:
            if not warehouse.table_exists(table):
                unavailable[table] = "not in the warehouse"
                return None
            return reader(warehouse, warehouse.relation(table))
        # Each engine raises its own exception types; whatever it is, the page leaves the
        # table's part out and says why, rather than losing the whole report.
        except Exception as exc:
            unavailable[table] = f"cannot be read ({type(exc).__name__}: {first_line(exc)})"
            return None

    counts = read(MEMBERSHIPS, read_counts)
    transitions = read(TRANSITIONS, read_latest_transitions)
    features = read(FEATURE_DRIFT, read_feature_drift)
    segments = read(SEGMENT_DRIFT, read_segment_drift)
    at_risk = read(AT_RISK_CANDIDATES, lambda w, r: read_at_risk(w, r, rows=at_risk_rows))
    drift = None
    if features is not None and segments is not None:
        drift = _drift_facts(features, segments)
    return HistoryFacts(
        counts=counts,
        transitions=transitions,
        drift=drift,
        at_risk=at_risk,
        unavailable=unavailable,
    )


def read_counts(warehouse: Warehouse, relation: str) -> tuple[SegmentCount, ...]:
    """Customers per as-of date and segment."""
    rows = warehouse.fetch(
        f"select as_of_date, segment_id, segment_name, count(*) from {relation} "
        "group by as_of_date, segment_id, segment_name"
    )
    counts = (SegmentCount(iso(d), int(sid), str(name), int(n)) for d, sid, name, n in rows)
    return tuple(sorted(counts, key=lambda c: (c.as_of_date, c.segment_id)))


def read_latest_transitions(warehouse: Warehouse, relation: str) -> TransitionPeriod | None:
    """The transition matrix of the latest pair of consecutive as-of dates (None: no pair)."""
    rows = warehouse.fetch(
        "select from_as_of_date, to_as_of_date, from_segment_id, from_segment_name, "
        f"to_segment_id, to_segment_name, count_customers, probability from {relation} "
        "where transition_kind = 'period' and to_as_of_date = "
        f"(select max(to_as_of_date) from {relation} where transition_kind = 'period')"
    )
    if not rows:
        return None
    cells = sorted(
        (
            Transition(int(f), str(fn), int(t), str(tn), int(n), float(p))
            for _, _, f, fn, t, tn, n, p in rows
        ),
        key=lambda c: (c.from_id, c.to_id),
    )
    return TransitionPeriod(iso(rows[0][0]), iso(rows[0][1]), tuple(cells))


def read_feature_drift(warehouse: Warehouse, relation: str) -> tuple[str, list[FeatureDrift]]:
    """The latest as-of date's PSI per feature and reference (the date; '' when empty)."""
    rows = warehouse.fetch(
        f"select as_of_date, compared_with, compared_as_of_date, feature_name, psi from {relation} "
        f"where as_of_date = (select max(as_of_date) from {relation})"
    )
    drift = [
        FeatureDrift(str(against), None if other is None else iso(other), str(name), float(psi))
        for _, against, other, name, psi in rows
    ]
    order = {name: i for i, name in enumerate(DRIFT_FEATURES)}
    drift.sort(key=lambda d: (d.compared_with != AGAINST_TRAINING, order.get(d.feature, 99)))
    return (iso(rows[0][0]) if rows else ""), drift


def read_segment_drift(warehouse: Warehouse, relation: str) -> tuple[str, list[SegmentDrift]]:
    """The latest as-of date's figures per segment (the date; '' when empty)."""
    movements = ", ".join(f"movement_{name}" for name in DRIFT_FEATURES)
    rows = warehouse.fetch(
        "select as_of_date, segment_id, segment_name, count_customers, customer_share, "
        "previous_as_of_date, share_shift, training_share, share_shift_from_training, "
        f"kept_share, {movements} from {relation} "
        f"where as_of_date = (select max(as_of_date) from {relation})"
    )
    segments = [
        SegmentDrift(
            segment_id=int(row[1]),
            segment_name=str(row[2]),
            customers=int(row[3]),
            share=float(row[4]),
            previous_as_of_date=None if row[5] is None else iso(row[5]),
            share_shift=optional_float(row[6]),
            training_share=optional_float(row[7]),
            shift_from_training=optional_float(row[8]),
            kept_share=optional_float(row[9]),
            movement=dict(zip(DRIFT_FEATURES, map(optional_float, row[10:]), strict=True)),
        )
        for row in rows
    ]
    segments.sort(key=lambda s: s.segment_id)
    return (iso(rows[0][0]) if rows else ""), segments


def read_at_risk(warehouse: Warehouse, relation: str, *, rows: int) -> AtRiskFacts:
    """The ``rows`` customers most likely to be At-Risk next, and the list's length."""
    ((count, as_of),) = warehouse.fetch(f"select count(*), max(as_of_date) from {relation}")
    top = warehouse.fetch(
        f"select {', '.join(CANDIDATE_COLUMNS)} from {relation} "
        f"order by at_risk_rank limit {int(rows)}"
    )
    candidates = tuple(AtRiskCandidate.from_row(row) for row in top)
    return AtRiskFacts(
        as_of_date=None if as_of is None else iso(as_of),
        count_candidates=int(count),
        top=candidates,
    )


def _drift_facts(
    features: tuple[str, list[FeatureDrift]], segments: tuple[str, list[SegmentDrift]]
) -> DriftFacts | None:
    """The two tables' figures of their latest date (None when both are empty)."""
    (feature_date, feature_rows), (segment_date, segment_rows) = features, segments
    as_of = max(feature_date, segment_date)
    if not as_of:
        return None
    # Both tables are built from the same history, so their latest dates agree; if they do
    # not, only the figures of the later date are shown.
    return DriftFacts(
        as_of_date=as_of,
        features=tuple(feature_rows) if feature_date == as_of else (),
        segments=tuple(segment_rows) if segment_date == as_of else (),
    )


def optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def iso(value: object) -> str:
    """A date column's value as YYYY-MM-DD (engines return dates, datetimes or text)."""
    return as_date(value).isoformat()
