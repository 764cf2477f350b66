"""The whole segmentation flow: raw files -> dbt features -> K-means -> published seed -> mart.

Nothing is published until every check has passed: the model, metrics and segments CSV in
``ml_pipeline/models`` and the seed in ``dbt_pipeline/seeds`` keep their last good contents when
any step fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np

from custseg.atomic import write_bytes_atomic
from custseg.config import RunConfig
from custseg.dbt_runner import DbtInvocation, run_dbt
from custseg.errors import DbtError, InsufficientDataError, PublishError
from custseg.locking import exclusive_run_lock
from custseg.metrics import evaluate_segmentation
from custseg.model_io import fingerprint_features, library_versions, save_model, write_json_atomic
from custseg.naming import SEGMENT_NAMES
from custseg.publish import render_segments_csv, validate_segments_csv
from custseg.raw_load import LoadedTable, load_raw_files
from custseg.segmenter import FEATURES, CustomerSegmenter

SEGMENTS_FILE = "customer_segments.csv"
MODEL_FILE = "segment_model.json"
METRICS_FILE = "evaluation_metrics.json"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CustomerFeatures:
    """The clustering inputs read back from the warehouse, ordered by customer id."""

    customer_ids: list[str]
    matrix: np.ndarray
    as_of_date: dt.date


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
    loaded_tables: list[LoadedTable]
    segments: list[SegmentSummary]
    silhouette: float | None
    # Segments whose profile does not really show the behaviour their name stands for.
    naming_warnings: list[str]
    duckdb_path: Path
    seed_path: Path
    segments_path: Path
    model_path: Path
    metrics_path: Path


def run_pipeline(config: RunConfig, progress: Progress = lambda message: None) -> RunResult:
    """Run the whole flow once on ``config`` (see the module docstring)."""
    invocation = DbtInvocation(
        project_dir=config.dbt_project_dir,
        env={"CUSTSEG_DUCKDB_PATH": str(config.duckdb_path)},
        vars=config.dbt_vars(),
    )
    with exclusive_run_lock(config.lock_path):
        progress(f"Loading raw files from {config.data_dir}")
        with duckdb.connect(str(config.duckdb_path)) as con:
            loaded = load_raw_files(con, config.data_dir)

        progress("Building staging models and customer features with dbt")
        run_dbt(
            invocation,
            "build",
            "--select",
            "+customer_features",
            "--indirect-selection",
            "cautious",
        )

        features = read_customer_features(config.duckdb_path)
        progress(
            f"Clustering {len(features.customer_ids):,} customers into {config.n_segments} segments"
        )
        segmenter = CustomerSegmenter(
            n_segments=config.n_segments, random_state=config.random_state, n_init=config.n_init
        ).fit(features.matrix)
        metrics = evaluate_segmentation(
            segmenter.transform(features.matrix),
            segmenter.labels_,
            inertia=segmenter.inertia_,
            random_state=config.random_state,
            silhouette_sample_size=config.silhouette_sample_size,
        )

        candidate = render_segments_csv(features.customer_ids, segmenter.labels_, SEGMENT_NAMES)
        validate_segments_csv(
            candidate,
            features.customer_ids,
            SEGMENT_NAMES,
            source="candidate customer_segments.csv",
        )

        progress("Publishing the customer_segments seed and building fct_customer_segments")
        publish_seed(candidate, config.seed_path, invocation)

        output_dir = config.output_dir
        segments_path = output_dir / SEGMENTS_FILE
        model_path = output_dir / MODEL_FILE
        metrics_path = output_dir / METRICS_FILE
        write_bytes_atomic(segments_path, candidate)
        save_model(
            model_path,
            segmenter,
            metadata={
                "as_of_date": features.as_of_date.isoformat(),
                "config": {
                    "n_segments": config.n_segments,
                    "random_state": config.random_state,
                    "n_init": config.n_init,
                    "silhouette_sample_size": config.silhouette_sample_size,
                },
                "input_fingerprint": fingerprint_features(features.customer_ids, features.matrix),
                "n_customers": len(features.customer_ids),
                "library_versions": library_versions(),
            },
        )
        write_json_atomic(metrics_path, metrics)
        summary = summarize_mart(config.duckdb_path)

    return RunResult(
        as_of_date=features.as_of_date,
        n_customers=len(features.customer_ids),
        loaded_tables=loaded,
        segments=summary,
        silhouette=metrics.get("silhouette"),
        naming_warnings=naming_warnings(segmenter),
        duckdb_path=config.duckdb_path,
        seed_path=config.seed_path,
        segments_path=segments_path,
        model_path=model_path,
        metrics_path=metrics_path,
    )


def naming_warnings(segmenter: CustomerSegmenter) -> list[str]:
    """One message per segment whose name was only the best one left, not a good fit."""
    naming = segmenter.naming_
    return [
        f"segment {segment_id} '{SEGMENT_NAMES[segment_id]}' is a weak match for its name "
        f"({evidence})"
        for segment_id, evidence, weak in zip(
            naming.segment_id_of_cluster, naming.evidence, naming.weak_match, strict=True
        )
        if weak
    ]


def read_customer_features(duckdb_path: Path) -> CustomerFeatures:
    """Read the clustering features from the ``customer_features`` model."""
    columns = ", ".join(FEATURES)
    with duckdb.connect(str(duckdb_path)) as con:
        rows = con.execute(
            f"select customer_id, as_of_date, {columns} from customer_features"
        ).fetchall()
    if not rows:
        raise InsufficientDataError(
            "customer_features is empty: no customer has an order before the as-of date. "
            "Check the sales file and --as-of-date."
        )
    rows.sort(key=lambda row: row[0])
    customer_ids = [str(row[0]) for row in rows]
    as_of_date = rows[0][1]
    matrix = np.array([row[2:] for row in rows], dtype=np.float64)
    return CustomerFeatures(customer_ids=customer_ids, matrix=matrix, as_of_date=as_of_date)


def publish_seed(candidate: bytes, seed_path: Path, invocation: DbtInvocation) -> None:
    """Replace the seed with ``candidate`` and build it and everything downstream, with tests.

    On failure the previous seed file is restored and reloaded; ``fct_customer_segments`` is not
    rebuilt when a test of the seed fails, so it keeps its last good contents.
    """
    previous = seed_path.read_bytes() if seed_path.exists() else None
    write_bytes_atomic(seed_path, candidate)
    try:
        run_dbt(invocation, "build", "--select", "customer_segments+")
    except DbtError as exc:
        restored = "no previous seed existed"
        if previous is not None:
            write_bytes_atomic(seed_path, previous)
            restored = f"the previous {seed_path.name} was restored"
            try:
                run_dbt(invocation, "seed", "--select", "customer_segments")
            except DbtError as reload_error:
                restored += f" but reloading it failed ({reload_error})"
        raise PublishError(
            f"The new segments were not published: {exc}\n{restored}; the model, metrics and "
            "fct_customer_segments keep their last good contents."
        ) from exc


def summarize_mart(duckdb_path: Path) -> list[SegmentSummary]:
    """Customers and revenue per segment, read from the published mart."""
    with duckdb.connect(str(duckdb_path)) as con:
        rows = con.execute(
            """
            select segment_id, segment_name, count(*) as customers, sum(total_revenue) as revenue
            from fct_customer_segments
            group by segment_id, segment_name
            order by segment_id
            """
        ).fetchall()
    total_customers = sum(row[2] for row in rows) or 1
    total_revenue = sum(row[3] for row in rows) or 1.0
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
        payload[key] = str(payload[key])
    payload["loaded_tables"] = [
        {"table": t.table_name, "source": str(t.source_path), "rows": t.row_count}
        for t in result.loaded_tables
    ]
    return payload
