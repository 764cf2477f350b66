"""The whole segmentation flow: raw files -> dbt features -> K-means -> published seeds -> mart.

Nothing is published until every check has passed: the model, metrics and segments CSV in
``ml_pipeline/models`` and the seeds in ``dbt_pipeline/seeds`` keep their last good contents when
any step fails.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from custseg.atomic import write_bytes_atomic
from custseg.config import MAX_SEGMENTS, MIN_SEGMENTS, RunConfig
from custseg.dbt_runner import DbtInvocation, DbtNodeResult, run_dbt
from custseg.definitions import render_model_parameters_csv, render_segment_definitions_csv
from custseg.errors import (
    DbtError,
    InsufficientDataError,
    ModelIntegrityError,
    PublishError,
    SegmentationError,
)
from custseg.evaluate import KSelection, select_k
from custseg.input_checks import repair_messages
from custseg.last_good import kept_while_publishing
from custseg.locking import exclusive_run_lock, project_lock_path
from custseg.matching import MatchResult, match_segments
from custseg.metrics import evaluate_segmentation
from custseg.model_io import (
    fingerprint_features,
    library_versions,
    load_model,
    save_model,
    write_json_atomic,
)
from custseg.naming import SEGMENT_NAMES
from custseg.publish import SEGMENTS_HEADER, render_segments_csv, validate_segments_csv
from custseg.raw_load import LoadedTable
from custseg.report import REPORT_FILE, ReportError, build_report
from custseg.segmenter import FEATURES, CustomerSegmenter
from custseg.warehouses import Warehouse, open_warehouse

SEGMENTS_FILE = "customer_segments.csv"
MODEL_FILE = "segment_model.json"
METRICS_FILE = "evaluation_metrics.json"
K_SELECTION_FILE = "k_selection.json"
#: How `custseg run` tells fct_customer_segments where the segments come from.
SEGMENT_SOURCE_ENV = "CUSTSEG_SEGMENT_SOURCE"

SEGMENTS_HEADER_LINE = (",".join(SEGMENTS_HEADER) + "\n").encode("utf-8")

Progress = Callable[[str], None]


def _silent(message: str) -> None:
    """Default progress callback: say nothing."""


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
    # What custseg repaired or noted in the input files, with counts (see input_checks).
    repairs: list[str] = field(default_factory=list)


def dbt_invocation(
    config: RunConfig, warehouse: Warehouse, segment_source: str = "seed"
) -> DbtInvocation:
    """The dbt project, target, environment and vars of a run.

    ``segment_source`` ('seed' or 'warehouse', see fct_customer_segments) travels as the
    environment variable CUSTSEG_SEGMENT_SOURCE rather than as a var: dbt re-parses the whole
    project when its vars change (about 2 s), and only the files reading a changed variable.
    """
    return DbtInvocation(
        project_dir=config.dbt_project_dir,
        target=config.target,
        env={**warehouse.dbt_env(), SEGMENT_SOURCE_ENV: segment_source},
        vars=config.dbt_vars(),
    )


def build_feature_models(config: RunConfig, warehouse: Warehouse) -> list[DbtNodeResult]:
    """Build and test everything up to ``customer_features`` with dbt."""
    return run_dbt(
        dbt_invocation(config, warehouse),
        "build",
        "--select",
        "+customer_features",
        "--indirect-selection",
        "cautious",
    )


def build_features(
    config: RunConfig, warehouse: Warehouse, progress: Progress = _silent
) -> tuple[list[LoadedTable], CustomerFeatures]:
    """Load the raw files, build and test everything up to ``customer_features``, read it."""
    progress(f"Loading raw files from {config.data_dir} into {warehouse.describe()}")
    loaded = warehouse.load_raw(config.data_dir)
    progress("Building staging models and customer features with dbt")
    build_feature_models(config, warehouse)
    return loaded, read_customer_features(warehouse)


def read_customer_features(warehouse: Warehouse) -> CustomerFeatures:
    """Read the clustering features from the ``customer_features`` model, by customer id.

    Ids are sorted in Python (code point order, whatever the engine's collation), so the same
    customers give the same matrix, and the same model, on every engine.
    """
    relation = warehouse.relation("customer_features")
    columns = warehouse.fetch_columns(
        f"select customer_id, {', '.join(FEATURES)} from {relation}", ("customer_id", *FEATURES)
    )
    if len(columns["customer_id"]) == 0:
        raise InsufficientDataError(
            "customer_features is empty: no customer has an order before the as-of date. "
            "Check the sales file and --as-of-date."
        )
    ids = np.array([str(value) for value in columns["customer_id"]])
    order = np.argsort(ids, kind="stable")
    matrix = np.column_stack(
        [np.asarray(columns[feature], dtype=np.float64)[order] for feature in FEATURES]
    )
    ((as_of_date,),) = warehouse.fetch(f"select min(as_of_date) from {relation}")
    return CustomerFeatures(customer_ids=ids[order].tolist(), matrix=matrix, as_of_date=as_of_date)


def load_previous_model(path: Path) -> tuple[CustomerSegmenter | None, list[str]]:
    """The published model and warnings; None on a first run or when the file is refused.

    A file that is damaged, edited or from an incompatible custseg version is never half-loaded:
    it is refused with a warning, ids then come from the naming rules alone, and the run replaces
    it with the new model.
    """
    if not path.exists():
        return None, []
    try:
        segmenter, _ = load_model(path)
    except ModelIntegrityError as error:
        return None, [
            f"the published model cannot be used to keep segment ids ({error}); "
            "ids come from the naming rules alone"
        ]
    return segmenter, []


def choose_k(config: RunConfig, features: CustomerFeatures, progress: Progress) -> KSelection:
    """Evaluate k = 2..5 and pick one under the business constraint."""
    progress("Evaluating k = 2..5 (quality, bootstrap stability, smallest segment)")
    return select_k(
        features.matrix,
        ks=tuple(range(MIN_SEGMENTS, min(MAX_SEGMENTS, len(features.customer_ids)) + 1)),
        random_state=config.random_state,
        n_init=config.n_init,
        min_segment_share=config.min_segment_share,
        silhouette_sample_size=config.silhouette_sample_size,
    )


def keep_previous_ids(
    segmenter: CustomerSegmenter, previous: CustomerSegmenter | None, config: RunConfig
) -> tuple[CustomerSegmenter, MatchResult | None, list[str]]:
    """Give each new segment the id of the matching published segment when the data barely moved."""
    if previous is None:
        return segmenter, None, []
    match = match_segments(segmenter, previous, config.max_centroid_shift)
    if match.definitions_changed:
        pairs = ", ".join(
            f"{SEGMENT_NAMES[m.previous_segment_id]} -> {SEGMENT_NAMES[m.new_segment_id]} "
            f"({m.distance:.2f} sd)"
            for m in match.matches
        )
        warning = (
            f"segment definitions changed: {match.reason}. Names now come from the naming rules "
            f"alone; previous -> new matches: {pairs}."
        )
        return segmenter, match, [warning]
    if match.changes_ids:
        segmenter = segmenter.with_segment_ids(match.mapping)
    return segmenter, match, []


def enforce_supported_names(segmenter: CustomerSegmenter, config: RunConfig) -> list[str]:
    """Refuse (or, when allowed, warn about) names the segment profiles do not support."""
    failed = list(segmenter.unsupported_names())
    if not failed:
        return []
    lines = [
        f"segment {check.segment_id} '{check.segment_name}': {check.rule} Not met: {check.detail}"
        for check in failed
    ]
    if not config.allow_unsupported_names:
        raise SegmentationError(
            "The data does not support these segment names, so nothing was published:\n  "
            + "\n  ".join(lines)
            + "\nTry another --k (see `custseg evaluate`), or publish anyway with "
            "--allow-unsupported-names."
        )
    return [f"name not supported by the data: {line}" for line in lines]


def fit_rows(n_customers: int, config: RunConfig) -> np.ndarray | None:
    """Rows to fit on: None for everyone, else a reproducible random sample."""
    if n_customers <= config.fit_sample_size:
        return None
    rng = np.random.default_rng(config.random_state)
    return np.sort(rng.choice(n_customers, size=config.fit_sample_size, replace=False))


def run_pipeline(config: RunConfig, progress: Progress = _silent) -> RunResult:
    """Run the whole flow once on ``config`` (see the module docstring)."""
    output_dir = config.output_dir
    segments_path = output_dir / SEGMENTS_FILE
    model_path = output_dir / MODEL_FILE
    metrics_path = output_dir / METRICS_FILE
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 3)
        clock = now

    with (
        open_warehouse(config) as warehouse,
        exclusive_run_lock(warehouse.lock_path, warehouse.lock_alternative),
        exclusive_run_lock(project_lock_path(config.dbt_project_dir), what="project"),
    ):
        previous, model_warnings = load_previous_model(model_path)
        progress(f"Loading raw files from {config.data_dir} into {warehouse.describe()}")
        loaded = warehouse.load_raw(config.data_dir)
        lap("load")
        progress("Building staging models and customer features with dbt")
        build_feature_models(config, warehouse)
        features = read_customer_features(warehouse)
        lap("features")

        selection = None
        n_segments = config.n_segments
        if n_segments is None:
            selection = choose_k(config, features, progress)
            if selection.chosen_k is None:
                raise SegmentationError(
                    f"k could not be chosen automatically: {selection.reason}. Run "
                    "`custseg evaluate` to see the evidence and pass --k explicitly."
                )
            n_segments = selection.chosen_k

        n_customers = len(features.customer_ids)
        sample = fit_rows(n_customers, config)
        fit_on = features.matrix if sample is None else features.matrix[sample]
        progress(
            f"Clustering {n_customers:,} customers into {n_segments} segments"
            + ("" if sample is None else f" (fitted on a sample of {len(sample):,})")
        )
        segmenter = CustomerSegmenter(
            n_segments=n_segments, random_state=config.random_state, n_init=config.n_init
        ).fit(fit_on)
        segmenter, match, warnings = keep_previous_ids(segmenter, previous, config)
        warnings = model_warnings + warnings + enforce_supported_names(segmenter, config)
        labels = segmenter.predict(features.matrix)
        scaled = segmenter.transform(features.matrix)
        metrics = evaluate_segmentation(
            scaled,
            labels,
            inertia=inertia(segmenter, scaled, labels),
            random_state=config.random_state,
            silhouette_sample_size=config.silhouette_sample_size,
        )
        lap("fit")

        segments_csv = render_segments_csv(features.customer_ids, labels, SEGMENT_NAMES)
        validate_segments_csv(
            segments_csv,
            features.customer_ids,
            SEGMENT_NAMES,
            source="candidate customer_segments.csv",
        )
        in_warehouse = n_customers > config.seed_max_customers
        seeds = {
            # Large runs publish no per-customer seed: the warehouse scores everyone.
            config.seed_path: SEGMENTS_HEADER_LINE if in_warehouse else segments_csv,
            config.definitions_path: render_segment_definitions_csv(
                segmenter, labels, features.matrix
            ),
            config.parameters_path: render_model_parameters_csv(segmenter),
        }
        progress(
            "Publishing the seeds, scoring customers in SQL and building fct_customer_segments"
        )
        invocation = dbt_invocation(
            config, warehouse, segment_source="warehouse" if in_warehouse else "seed"
        )
        with kept_while_publishing(warehouse):
            dbt_results = publish_seeds(seeds, invocation)
        # Inside "publish": dbt's own time on seeds, scoring and mart, and on their tests.
        for stage, kinds in (("seeds_scoring_mart", {"model", "seed"}), ("tests", {"test"})):
            seconds[f"publish_dbt_{stage}"] = round(
                sum(r.execution_time for r in dbt_results if r.resource_type in kinds), 3
            )
        lap("publish")

        progress("Writing the segments CSV, model, metrics and HTML report")
        write_bytes_atomic(segments_path, segments_csv)
        save_model(
            model_path,
            segmenter,
            metadata={
                "as_of_date": features.as_of_date.isoformat(),
                "config": {
                    "n_segments": n_segments,
                    "k_chosen_automatically": selection is not None,
                    "random_state": config.random_state,
                    "n_init": config.n_init,
                    "init": segmenter.init,
                    "init_used": segmenter.init_used_,
                    "fit_sample_size": None if sample is None else len(sample),
                    "segments_scored_in_warehouse": in_warehouse,
                    "silhouette_sample_size": config.silhouette_sample_size,
                    "max_centroid_shift": config.max_centroid_shift,
                },
                "input_fingerprint": fingerprint_features(features.customer_ids, features.matrix),
                "n_customers": n_customers,
                "library_versions": library_versions(),
                "matching_previous_model": match.to_dict() if match else None,
            },
        )
        write_json_atomic(metrics_path, metrics)
        if selection is not None:
            write_json_atomic(output_dir / K_SELECTION_FILE, selection.to_dict())
        report_path: Path | None = output_dir / REPORT_FILE
        try:
            build_report(
                model_path,
                metrics_path,
                warehouse,
                report_path,
                k_selection_path=output_dir / K_SELECTION_FILE,
            )
        except ReportError as error:
            # The segments are published; a report that cannot be drawn must not fail the run.
            warnings.append(f"the HTML report was not written: {error}")
            report_path = None
        summary = summarize_mart(warehouse)
        description = warehouse.describe()
        lap("outputs")

    return RunResult(
        as_of_date=features.as_of_date,
        n_customers=n_customers,
        n_segments=n_segments,
        loaded_tables=loaded,
        segments=summary,
        silhouette=metrics.get("silhouette"),
        warnings=warnings,
        matching=match.to_dict() if match else None,
        segments_scored_in_warehouse=in_warehouse,
        stage_seconds=seconds,
        warehouse=description,
        duckdb_path=config.duckdb_path if config.target == "duckdb" else None,
        seed_path=config.seed_path,
        segments_path=segments_path,
        model_path=model_path,
        metrics_path=metrics_path,
        report_path=report_path,
        repairs=repair_messages(loaded),
    )


def inertia(segmenter: CustomerSegmenter, scaled: np.ndarray, labels: np.ndarray) -> float:
    """Sum of squared distances of every customer to its segment's centroid."""
    rows = np.searchsorted(np.asarray(segmenter.segment_ids_), labels)
    differences = scaled - segmenter.centroids_[rows]
    return float(np.einsum("ij,ij->", differences, differences))


def evaluate_pipeline(
    config: RunConfig, *, build: bool, progress: Progress = _silent
) -> tuple[KSelection, Path]:
    """Evaluate k = 2..5 on the warehouse's features (rebuilt from the raw files if ``build``).

    Writes ``k_selection.json`` beside the model and returns the selection and that path.
    Nothing is published.
    """
    with (
        open_warehouse(config) as warehouse,
        exclusive_run_lock(warehouse.lock_path, warehouse.lock_alternative),
        exclusive_run_lock(project_lock_path(config.dbt_project_dir), what="project"),
    ):
        if build:
            _, features = build_features(config, warehouse, progress)
        else:
            features = read_customer_features(warehouse)
        selection = choose_k(config, features, progress)
        path = config.output_dir / K_SELECTION_FILE
        write_json_atomic(path, selection.to_dict())
    return selection, path


def publish_seeds(files: Mapping[Path, bytes], invocation: DbtInvocation) -> list[DbtNodeResult]:
    """Replace the seed files and build them and everything downstream, with tests.

    On failure every previous seed file is restored and reloaded; ``fct_customer_segments`` is
    not rebuilt when a test of a seed fails. A failure after the mart was rebuilt (its own tests)
    is undone by the caller, which wraps this in ``last_good.kept_while_publishing``.
    """
    previous = {path: path.read_bytes() if path.exists() else None for path in files}
    for path, data in files.items():
        write_bytes_atomic(path, data)
    selectors = [f"{path.stem}+" for path in files]
    try:
        return run_dbt(invocation, "build", "--select", *selectors)
    except DbtError as exc:
        restored = []
        for path, data in previous.items():
            if data is not None:
                write_bytes_atomic(path, data)
                restored.append(path.name)
        note = "no previous seeds existed"
        if restored:
            note = f"the previous {', '.join(restored)} were restored"
            try:
                run_dbt(invocation, "seed", "--select", *(Path(name).stem for name in restored))
            except DbtError as reload_error:
                note += f" but reloading them failed ({reload_error})"
        raise PublishError(
            f"The new segments were not published: {exc}\n{note}; the model, metrics and "
            "fct_customer_segments keep their last good contents."
        ) from exc


def summarize_mart(warehouse: Warehouse) -> list[SegmentSummary]:
    """Customers and revenue per segment, read from the published mart.

    Revenue is summed as an exact decimal: a floating point sum depends on the order the engine
    adds the rows in, which differs between engines and between layouts of the same data.
    """
    rows = warehouse.fetch(
        "select segment_id, segment_name, count(*) as customers, "
        "sum(cast(total_revenue as decimal(38, 10))) as revenue "
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
    paths = (
        "duckdb_path",
        "seed_path",
        "segments_path",
        "model_path",
        "metrics_path",
        "report_path",
    )
    for key in paths:
        payload[key] = None if payload[key] is None else str(payload[key])
    payload["loaded_tables"] = [
        {"table": t.table_name, "source": str(t.source_path), "rows": t.row_count}
        for t in result.loaded_tables
    ]
    return payload
