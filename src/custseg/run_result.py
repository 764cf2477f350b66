"""What a run returns: the published segments' summary, where everything went, stage times."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from custseg.catalogue import SEGMENT_TYPES
from custseg.dbt.runner import DbtNodeResult
from custseg.ingest.layout import LoadedTable
from custseg.warehouses import Warehouse


@dataclass(frozen=True)
class SegmentSummary:
    """One line of the run summary."""

    segment_id: int
    segment_name: str
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float
    # What the segment means and what to do with it, from the catalogue (as in the seed
    # segment_definitions); empty for an id the catalogue does not know.
    meaning: str = ""
    action: str = ""


@dataclass(frozen=True)
class RunResult:
    """What a run produced and where it put it."""

    # The run's unique id, recorded in the model, metrics, k evidence and report it wrote.
    run_id: str
    # The dataset it read (custseg.run_identity): models of other datasets are not compared.
    dataset: str
    as_of_date: dt.date
    n_customers: int
    n_segments: int
    loaded_tables: list[LoadedTable]
    segments: list[SegmentSummary]
    silhouette: float | None
    # Messages the user should read: unsupported names, changed segment definitions.
    warnings: list[str]
    # How the new segments relate to the previously published model (None on a first run).
    matching: dict | None
    # True when customers were scored in SQL instead of passing through the customer_segments seed.
    segments_scored_in_warehouse: bool
    # Wall seconds per stage (load, features, fit, publish, outputs) and dbt node time sums.
    stage_seconds: dict[str, float]
    # Where the data lives ("DuckDB file ...", "PostgreSQL ...").
    warehouse: str
    # The DuckDB file when the target is duckdb, else None.
    duckdb_path: Path | None
    seed_path: Path
    segments_path: Path
    model_path: Path
    metrics_path: Path
    # The HTML report, or None when it could not be drawn (see warnings).
    report_path: Path | None = None
    # What custseg repaired or noted in the input files, with counts (see custseg.ingest).
    repairs: list[str] = field(default_factory=list)
    # Facts to know that are not problems, e.g. a first run of a dataset in this project.
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON types only: what ``custseg run --json`` prints (see :func:`result_as_dict`)."""
        return result_as_dict(self)


def summarize_mart(warehouse: Warehouse) -> list[SegmentSummary]:
    """Customers and revenue per segment, read from the published mart.

    Revenue is summed as an exact decimal: a floating point sum depends on the order the engine
    adds the rows in, which differs between engines and between layouts of the same data.
    """
    rows = warehouse.fetch(
        "select segment_id, segment_name, count(*) as customers, "
        "sum(cast(lifetime_revenue as decimal(38, 10))) as revenue "
        f"from {warehouse.relation('fct_customer_segments')} "
        "group by segment_id, segment_name order by segment_id"
    )
    total_customers = sum(row[2] for row in rows) or 1
    total_revenue = float(sum(row[3] for row in rows)) or 1.0
    return [
        SegmentSummary(
            segment_id=int(segment_id),
            segment_name=str(name),
            customers=int(customers),
            customer_share=customers / total_customers,
            revenue=float(revenue),
            revenue_share=float(revenue) / total_revenue,
            meaning=_type_text(int(segment_id), "description"),
            action=_type_text(int(segment_id), "action"),
        )
        for segment_id, name, customers, revenue in rows
    ]


def segment_guide(segments: Sequence[SegmentSummary]) -> list[str]:
    """The run summary's lines on what each segment means and what to do with it."""
    lines = ["What each segment means, and what to do:"]
    for segment in segments:
        lines.append(f"  {segment.segment_id:>2}  {segment.segment_name}: {segment.meaning}")
        lines.append(f"      Action: {segment.action}")
    return lines


def _type_text(segment_id: int, field_name: str) -> str:
    segment = SEGMENT_TYPES.get(segment_id)
    return "" if segment is None else str(getattr(segment, field_name))


def result_as_dict(result: RunResult) -> dict:
    """A JSON-ready view of a run result."""
    payload = asdict(result)
    payload["as_of_date"] = result.as_of_date.isoformat()
    for key in ("duckdb_path", "seed_path", "segments_path", "model_path", "metrics_path"):
        payload[key] = None if payload[key] is None else str(payload[key])
    payload["report_path"] = None if result.report_path is None else str(result.report_path)
    payload["loaded_tables"] = [
        {
            "table": t.table_name,
            # None: the input was not given (its raw table is empty).
            "source": None if t.source_path is None else str(t.source_path),
            "rows": t.row_count,
        }
        for t in result.loaded_tables
    ]
    return payload


class StageClock:
    """Wall seconds of each stage of a run, and dbt's own time inside publishing."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Close ``stage``: the seconds since the previous lap."""
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now

    def record_dbt(self, results: Sequence[DbtNodeResult]) -> None:
        """dbt's own time on seeds, scoring and mart, and on their tests."""
        for stage, kinds in (("seeds_scoring_mart", {"model", "seed"}), ("tests", {"test"})):
            self.seconds[f"publish_dbt_{stage}"] = round(
                sum(r.execution_time for r in results if r.resource_type in kinds), 3
            )
