"""The whole flow, stage by stage: raw files -> dbt features -> K-means -> published seeds -> mart.

Each command of the CLI is one function here, a short list of stages that live in their own
packages (``ingest`` through the warehouse, ``features``, ``model``, ``publish``, ``report``).
Nothing is published until every check has passed: the model, metrics and segments CSV in
``ml_pipeline/models`` and the seeds in ``dbt_pipeline/seeds`` keep their last good contents when
any step fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from custseg.catalogue import SEGMENT_NAMES
from custseg.dbt.runner import DbtNodeResult, invocation_for
from custseg.errors import ConfigError
from custseg.features import CustomerFeatures, build_features, read_customer_features
from custseg.ingest.layout import LoadedTable
from custseg.ingest.mapping import InputSpec
from custseg.ingest.staging import repair_messages
from custseg.model.evaluation import KSelection
from custseg.model.fitting import FittedSegments, Progress, choose_k, fit_segments, silent
from custseg.model.model_file import (
    fingerprint_features,
    library_versions,
    load_model,
    load_previous_model,
    model_document,
)
from custseg.publish.atomic import write_bytes_atomic, write_json_atomic
from custseg.publish.locking import exclusive_run_lock
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.publication import publish_seeds
from custseg.publish.seeds import (
    SEGMENTS_HEADER_LINE,
    render_model_parameters_csv,
    render_segment_definitions_csv,
    render_segments_csv,
)
from custseg.publish.validation import validate_segments_csv
from custseg.report import ReportError, build_report, read_json
from custseg.settings import N_INIT, SILHOUETTE_SAMPLE_SIZE, Settings
from custseg.warehouses import Warehouse, open_warehouse


@dataclass(frozen=True)
class SegmentSummary:
    """One line of the run summary."""

    segment_id: int
    segment_name: str
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float


@dataclass(frozen=True)
class RunResult:
    """What a run produced and where it put it."""

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


def run_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> RunResult:
    """Run the whole flow once: load, build features, fit, publish, write the outputs."""
    if settings.data_dir is None:
        raise ConfigError("No data folder: pass --data-dir DIR.")
    clock = StageClock()
    layout = settings.layout
    check_writable(settings)
    with opened(settings) as warehouse:
        previous, model_warnings = load_previous_model(layout.model_path)
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        loaded = warehouse.load_raw(settings.data_dir, inputs)
        clock.lap("load")
        progress("Building staging models and customer features with dbt")
        features = build_features(settings, warehouse)
        clock.lap("features")
        fitted = fit_segments(features.matrix, settings, previous, progress)
        clock.lap("fit")
        progress(
            "Publishing the seeds, scoring customers in SQL and building fct_customer_segments"
        )
        in_warehouse = len(features.customer_ids) > settings.seed_max_customers
        segments_csv, dbt_results = publish(settings, warehouse, features, fitted, in_warehouse)
        clock.record_dbt(dbt_results)
        clock.lap("publish")
        progress("Writing the segments CSV, model, metrics and HTML report")
        warnings = model_warnings + fitted.warnings
        report_path = write_outputs(
            settings, warehouse, features, fitted, segments_csv, in_warehouse, warnings
        )
        segments = summarize_mart(warehouse)
        clock.lap("outputs")
        return RunResult(
            as_of_date=features.as_of_date,
            n_customers=len(features.customer_ids),
            n_segments=fitted.n_segments,
            loaded_tables=loaded,
            segments=segments,
            silhouette=fitted.metrics.get("silhouette"),
            warnings=warnings,
            matching=fitted.match.to_dict() if fitted.match else None,
            segments_scored_in_warehouse=in_warehouse,
            stage_seconds=clock.seconds,
            warehouse=warehouse.describe(),
            duckdb_path=settings.duckdb_path if settings.target == "duckdb" else None,
            seed_path=layout.segments_seed_path,
            segments_path=layout.segments_path,
            model_path=layout.model_path,
            metrics_path=layout.metrics_path,
            report_path=report_path,
            repairs=repair_messages(loaded),
        )


def evaluate_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> tuple[KSelection, Path]:
    """Evaluate every k on the warehouse's features (rebuilt first when a data folder is given).

    Writes ``k_selection.json`` beside the model and returns the selection and that path.
    Nothing is published.
    """
    check_writable(settings, publishing=False)
    if settings.data_dir is None:
        require_built_warehouse(settings)
    with opened(settings) as warehouse:
        if settings.data_dir is not None:
            progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
            warehouse.load_raw(settings.data_dir, inputs)
            progress("Building staging models and customer features with dbt")
            features = build_features(settings, warehouse)
        else:
            features = read_customer_features(warehouse)
        selection = choose_k(features.matrix, settings, progress)
        path = settings.layout.k_selection_path
        write_json_atomic(path, selection.to_dict())
    return selection, path


def report_pipeline(settings: Settings, out_path: Path | None = None) -> Path:
    """Write the report of the published segments (default: beside the model) and return it.

    The run lock is held while reading, so a report never mixes a half-published run with the
    previous one.

    Raises
    ------
    ReportError
        No model or mart has been published yet.
    ModelIntegrityError
        The model file is damaged, edited or from an incompatible version.
    """
    layout = settings.layout
    if not layout.model_path.exists():
        raise ReportError(f"No published model at {layout.model_path}: run `custseg run` first.")
    # Opening a missing DuckDB file would create an empty one.
    if settings.target == "duckdb" and not (settings.duckdb_path and settings.duckdb_path.exists()):
        raise ReportError(
            f"No DuckDB warehouse at {settings.duckdb_path}: run `custseg run` first, or pass "
            "the --duckdb-path it used."
        )
    with open_warehouse(settings) as warehouse, exclusive_run_lock(warehouse.lock_path):
        _, document = load_model(layout.model_path)
        return build_report(
            document,
            read_json(layout.metrics_path, "evaluation metrics"),
            warehouse,
            out_path or layout.report_path,
            _saved_k_selection(layout.k_selection_path),
        )


# ------------------------------------------------------------------------------ the stages


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Warehouse]:
    """The run's warehouse, with the locks that keep other runs off it and off the project."""
    with (
        open_warehouse(settings) as warehouse,
        exclusive_run_lock(warehouse.lock_path, warehouse.lock_alternative),
        exclusive_run_lock(settings.layout.lock_path, what="project"),
    ):
        yield warehouse


def publish(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    fitted: FittedSegments,
    in_warehouse: bool,
) -> tuple[bytes, list[DbtNodeResult]]:
    """Validate the segments and publish the seeds with the mart built on them, all or nothing.

    Large runs (``in_warehouse``) publish no per-customer seed: the warehouse scores everyone.
    Returns the validated segments CSV and dbt's node results.
    """
    segments_csv = render_segments_csv(features.customer_ids, fitted.labels, SEGMENT_NAMES)
    validate_segments_csv(
        segments_csv,
        features.customer_ids,
        SEGMENT_NAMES,
        source="candidate customer_segments.csv",
    )
    layout = settings.layout
    seeds = {
        layout.segments_seed_path: SEGMENTS_HEADER_LINE if in_warehouse else segments_csv,
        layout.definitions_seed_path: render_segment_definitions_csv(
            fitted.segmenter, fitted.labels, features.matrix
        ),
        layout.parameters_seed_path: render_model_parameters_csv(fitted.segmenter),
    }
    invocation = invocation_for(
        settings, warehouse, segment_source="warehouse" if in_warehouse else "seed"
    )
    return segments_csv, publish_seeds(warehouse, invocation, seeds)


def write_outputs(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    fitted: FittedSegments,
    segments_csv: bytes,
    in_warehouse: bool,
    warnings: list[str],
) -> Path | None:
    """Write the segments CSV, the model, its metrics, the k evidence and the report.

    Returns the report's path, or None when it could not be drawn (a warning says why: the
    segments are published, so a report must not fail the run).
    """
    layout = settings.layout
    write_bytes_atomic(layout.segments_path, segments_csv)
    document = model_document(
        fitted.segmenter, metadata=model_metadata(settings, features, fitted, in_warehouse)
    )
    write_json_atomic(layout.model_path, document)
    write_json_atomic(layout.metrics_path, fitted.metrics)
    if fitted.selection is not None:
        write_json_atomic(layout.k_selection_path, fitted.selection.to_dict())
    k_selection = (
        fitted.selection.to_dict()
        if fitted.selection is not None
        else _saved_k_selection(layout.k_selection_path)
    )
    try:
        return build_report(document, fitted.metrics, warehouse, layout.report_path, k_selection)
    except ReportError as error:
        warnings.append(f"the HTML report was not written: {error}")
        return None


def model_metadata(
    settings: Settings, features: CustomerFeatures, fitted: FittedSegments, in_warehouse: bool
) -> dict:
    """What the model file records about the run that fitted it."""
    segmenter = fitted.segmenter
    return {
        "as_of_date": features.as_of_date.isoformat(),
        "config": {
            "n_segments": fitted.n_segments,
            "k_chosen_automatically": fitted.selection is not None,
            "random_state": settings.random_state,
            "n_init": N_INIT,
            "init": segmenter.init,
            "init_used": segmenter.init_used_,
            "fit_sample_size": fitted.fit_sample_size,
            "segments_scored_in_warehouse": in_warehouse,
            "silhouette_sample_size": SILHOUETTE_SAMPLE_SIZE,
            "max_centroid_shift": settings.max_centroid_shift,
        },
        "input_fingerprint": fingerprint_features(features.customer_ids, features.matrix),
        "n_customers": len(features.customer_ids),
        "library_versions": library_versions(),
        "matching_previous_model": fitted.match.to_dict() if fitted.match else None,
    }


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
        )
        for segment_id, name, customers, revenue in rows
    ]


def result_as_dict(result: RunResult) -> dict:
    """A JSON-ready view of a run result."""
    payload = asdict(result)
    payload["as_of_date"] = result.as_of_date.isoformat()
    for key in ("duckdb_path", "seed_path", "segments_path", "model_path", "metrics_path"):
        payload[key] = None if payload[key] is None else str(payload[key])
    payload["report_path"] = None if result.report_path is None else str(result.report_path)
    payload["loaded_tables"] = [
        {"table": t.table_name, "source": str(t.source_path), "rows": t.row_count}
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


def _saved_k_selection(path: Path) -> Mapping | None:
    """The evidence for k written by the last evaluation, when there is one."""
    return read_json(path, "k selection") if path.exists() else None
