"""The whole flow, stage by stage: raw files -> dbt features -> K-means -> published seeds -> mart.

Each command of the CLI is one function here, a short list of stages that live in their own
packages (``ingest`` through the warehouse, ``features``, ``model``, ``publish``, ``report``).
Nothing is published until every check has passed, and then everything is published as one
unit (:func:`custseg.publish.publication.publication`): the seeds in the git-ignored
``dbt_pipeline/seeds/published`` (:attr:`ProjectLayout.published_seeds_dir`), the
tables dbt builds from them, and the segments CSV, model, metrics and report in
``ml_pipeline/models`` are all the previous ones or all the new ones. Every command first repairs
a publication a killed run left half done (:func:`repair_interrupted_publication`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from custseg.errors import ConfigError, ModelIntegrityError
from custseg.features import (
    CustomerFeatures,
    build_features,
    parse_dbt_project,
    read_customer_features,
)
from custseg.history.backfill import BackfillResult, backfill
from custseg.history.moves import MovesResult, publish_moves
from custseg.ingest.mapping import InputSpec
from custseg.model.evaluation import KSelection
from custseg.model.fitting import (
    Progress,
    choose_k,
    fit_segments,
    silent,
)
from custseg.model.model_file import (
    load_model,
    load_previous_model,
)
from custseg.monitoring.drift_report import DriftThresholds
from custseg.publish.atomic import write_json_atomic
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.session import opened, prepared, repair_interrupted_publication
from custseg.report import ReportError, build_report, read_json
from custseg.run_identity import run_identity
from custseg.run_publish import (
    RunContext,
    k_selection_document,
    publish_run,
    saved_k_selection,
)
from custseg.run_result import RunResult, StageClock
from custseg.settings import Settings


def run_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> RunResult:
    """Run the whole flow once: load, build features, fit, publish, write the outputs."""
    if settings.data_dir is None:
        raise ConfigError(
            "No data folder: pass --data-dir DIR (custseg.run(data_dir=...) in Python)."
        )
    clock = StageClock()
    layout = settings.layout
    identity = run_identity(settings, inputs)
    check_writable(settings)
    with opened(settings) as warehouse:
        repaired = repair_interrupted_publication(settings, warehouse, progress)
        previous, model_warnings, notes = load_previous_model(layout.model_path, identity.dataset)
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        loaded = warehouse.load_raw(
            settings.data_dir, inputs, strict_amounts=settings.strict_amounts
        )
        clock.lap("load")
        progress("Building staging models and customer features with dbt")
        manifest = parse_dbt_project(settings, warehouse)
        # dbt's artifacts in target/ are the publication's build's (unless this one fails).
        features = build_features(settings, warehouse, manifest, just_loaded=True, artifacts=False)
        clock.lap("features")
        fitted = fit_segments(features.matrix, settings, previous, progress, features.rhythm)
        clock.lap("fit")
        return publish_run(
            settings,
            warehouse,
            features,
            fitted,
            identity,
            RunContext(clock, loaded, repaired + model_warnings + fitted.warnings, notes, manifest),
            progress,
        )


def evaluate_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> tuple[KSelection, Path, dict]:
    """Evaluate every k on the warehouse's features (rebuilt first when a data folder is given).

    Writes ``k_selection.json`` beside the model and returns the selection, that path and the
    document written (the selection with the run id, the dataset and the data's fingerprint).
    Without a data folder the features are the last run's, so the dataset, unless given, is the
    published model's. Nothing is published.
    """
    identity = run_identity(
        settings, inputs, fallback=None if settings.data_dir else published_dataset(settings)
    )
    features = features_pipeline(settings, inputs, progress)
    selection = choose_k(features.matrix, settings, progress, features.rhythm)
    path = settings.layout.k_selection_path
    document = k_selection_document(selection, identity, features)
    write_json_atomic(path, document)
    return selection, path, document


def published_dataset(settings: Settings) -> str | None:
    """The dataset the published model records, if there is a sound one."""
    if not settings.layout.model_path.exists():
        return None
    try:
        _, document = load_model(settings.layout.model_path)
    except ModelIntegrityError:
        return None
    return document.get("metadata", {}).get("dataset")


def features_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> CustomerFeatures:
    """The customers' features: built by dbt from the raw files when a data folder is given,
    else read from the warehouse's ``customer_features`` of the last run. Nothing is published.
    """
    check_writable(settings, publishing=False)
    if settings.data_dir is None:
        require_built_warehouse(settings)
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        if settings.data_dir is None:
            return read_customer_features(warehouse)
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        warehouse.load_raw(settings.data_dir, inputs, strict_amounts=settings.strict_amounts)
        progress("Building staging models and customer features with dbt")
        return build_features(settings, warehouse, just_loaded=True)


def report_pipeline(
    settings: Settings, out_path: Path | None = None, progress: Progress = silent
) -> Path:
    """Write the report of the published segments (default: beside the model) and return it.

    The run locks are held while reading, and a publication a killed run left half done is
    repaired first, so a report never mixes a half-published run with the previous one.

    Raises
    ------
    ReportError
        No model or mart has been published yet.
    ModelIntegrityError
        The model file is damaged, edited or from an incompatible version.
    """
    layout = settings.layout
    # Opening a missing DuckDB file would create an empty one.
    if settings.target == "duckdb" and not (settings.duckdb_path and settings.duckdb_path.exists()):
        raise ReportError(
            f"No DuckDB warehouse at {settings.duckdb_path}: run `custseg run` first, or pass "
            "the --duckdb-path it used."
        )
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        if not layout.model_path.exists():
            raise ReportError(
                f"No published model at {layout.model_path}: run `custseg run` first."
            )
        _, document = load_model(layout.model_path)
        return build_report(
            document,
            read_json(layout.metrics_path, "evaluation metrics"),
            warehouse,
            out_path or layout.report_path,
            saved_k_selection(layout.k_selection_path),
            currency=settings.currency,
            drift_thresholds=DriftThresholds.from_settings(settings),
        )


def moves_pipeline(settings: Settings, progress: Progress = silent) -> MovesResult:
    """Learn who moves into At-Risk from the warehouse's history, publish the move model and
    the at-risk list (:func:`custseg.history.moves.publish_moves`), holding the run locks."""
    with prepared(settings, progress, reads_run=True) as warehouse:
        return publish_moves(settings, warehouse, progress)


def backfill_pipeline(
    settings: Settings,
    dates: Sequence[dt.date],
    *,
    retrain: bool = False,
    inputs: Sequence[InputSpec] = (),
    progress: Progress = silent,
) -> BackfillResult:
    """Segment customers at past as-of ``dates`` and add them to the history
    (:func:`custseg.history.backfill.backfill`), holding the run locks."""
    with prepared(settings, progress, reads_run=settings.data_dir is None) as warehouse:
        return backfill(
            settings, warehouse, dates, retrain=retrain, inputs=inputs, progress=progress
        )


def recover_pipeline(settings: Settings, progress: Progress = silent) -> str | None:
    """Repair a publication a killed run left half done; return what was done (None: nothing)."""
    with opened(settings) as warehouse:
        found = repair_interrupted_publication(settings, warehouse, progress)
    return found[0] if found else None
