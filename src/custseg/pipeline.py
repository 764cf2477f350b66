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

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from custseg.catalogue import SEGMENT_NAMES
from custseg.dbt.profiles import check_profile
from custseg.dbt.runner import DbtNodeResult, invocation_for, run_dbt
from custseg.errors import ConfigError, ModelIntegrityError
from custseg.features import CustomerFeatures, build_features, read_customer_features
from custseg.history import RunRecord, history_env, record_of_run
from custseg.ingest.mapping import InputSpec
from custseg.ingest.staging import repair_messages
from custseg.model.evaluation import KSelection
from custseg.model.fitting import (
    FittedSegments,
    Progress,
    choose_k,
    fit_segments,
    model_metadata,
    scored_in_warehouse,
    silent,
)
from custseg.model.model_file import (
    canonical_json,
    fingerprint_features,
    load_model,
    load_previous_model,
    model_document,
)
from custseg.publish.atomic import write_json_atomic
from custseg.publish.journal import recover
from custseg.publish.locking import exclusive_run_lock
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.publication import Publication, publication
from custseg.publish.seeds import (
    SEGMENTS_HEADER_LINE,
    render_model_parameters_csv,
    render_segment_definitions_csv,
    render_segments_csv,
)
from custseg.publish.validation import validate_segments_csv
from custseg.report import ReportError, build_report, read_json, report_page
from custseg.run_identity import RunIdentity, run_identity
from custseg.run_result import RunResult, StageClock, summarize_mart
from custseg.settings import Settings
from custseg.warehouses import Warehouse, open_warehouse


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
        features = build_features(settings, warehouse)
        clock.lap("features")
        fitted = fit_segments(features.matrix, settings, previous, progress, features.rhythm)
        clock.lap("fit")
        progress(
            "Publishing the seeds, scoring customers in SQL and building fct_customer_segments"
        )
        in_warehouse = scored_in_warehouse(len(features.customer_ids), settings)
        warnings = repaired + model_warnings + fitted.warnings
        document = model_document(
            fitted.segmenter,
            metadata=model_metadata(
                settings,
                fitted,
                features.customer_ids,
                features.matrix,
                features.as_of_date,
                identity.to_dict(),
            ),
        )
        record = record_of_run(document, fitted, features, identity)
        with publication(layout, warehouse, published_paths(settings, fitted)) as published:
            segments_csv, dbt_results = publish(
                settings, warehouse, features, fitted, in_warehouse, published, record
            )
            clock.record_dbt(dbt_results)
            clock.lap("publish")
            progress("Writing the segments CSV, model, metrics and HTML report")
            report_path = stage_outputs(
                settings,
                warehouse,
                features,
                fitted,
                segments_csv,
                warnings,
                published,
                identity,
                document,
            )
        segments = summarize_mart(warehouse)
        clock.lap("outputs")
        return RunResult(
            run_id=identity.run_id,
            dataset=identity.dataset,
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
            notes=notes,
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
        settings, inputs, fallback=None if settings.data_dir else _published_dataset(settings)
    )
    features = features_pipeline(settings, inputs, progress)
    selection = choose_k(features.matrix, settings, progress, features.rhythm)
    path = settings.layout.k_selection_path
    document = k_selection_document(selection, identity, features)
    write_json_atomic(path, document)
    return selection, path, document


def k_selection_document(
    selection: KSelection, identity: RunIdentity, features: CustomerFeatures
) -> dict:
    """``k_selection.json``: the evidence for k, the run that wrote it and the data it judged
    (the report shows it only beside a model of the same dataset and fingerprint)."""
    fingerprint = fingerprint_features(features.customer_ids, features.matrix)
    return selection.to_dict() | identity.to_dict() | {"input_fingerprint": fingerprint}


def _published_dataset(settings: Settings) -> str | None:
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
        return build_features(settings, warehouse)


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
            _saved_k_selection(layout.k_selection_path),
            currency=settings.currency,
        )


def recover_pipeline(settings: Settings, progress: Progress = silent) -> str | None:
    """Repair a publication a killed run left half done; return what was done (None: nothing)."""
    with opened(settings) as warehouse:
        found = repair_interrupted_publication(settings, warehouse, progress)
    return found[0] if found else None


# ------------------------------------------------------------------------------ the stages


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Warehouse]:
    """The run's warehouse, with the locks that keep other runs off it and off the project.

    Before anything is loaded: dbt's profile must name the same warehouse (a user's
    profiles.yml).
    """
    with open_warehouse(settings) as warehouse:
        check_profile(settings, warehouse.dbt_env())
        with (
            exclusive_run_lock(warehouse.lock_path, warehouse.lock_alternative),
            exclusive_run_lock(settings.layout.lock_path, what="project"),
        ):
            yield warehouse


def repair_interrupted_publication(
    settings: Settings, warehouse: Warehouse, progress: Progress
) -> list[str]:
    """Roll back or complete a publication a killed run left half done (see
    :func:`custseg.publish.journal.recover`); say what was found, as a one-item list."""
    found = recover(settings.layout.journal_path, settings.layout.root, warehouse)
    if found is None:
        return []
    progress(found)
    return [found]


def published_paths(settings: Settings, fitted: FittedSegments) -> list[Path]:
    """Every file a run publishes: the seeds, then the ML step's outputs."""
    layout = settings.layout
    paths = [
        layout.segments_seed_path,
        layout.definitions_seed_path,
        layout.parameters_seed_path,
        layout.segments_path,
        layout.model_path,
        layout.metrics_path,
        layout.report_path,
    ]
    if fitted.selection is not None:
        paths.append(layout.k_selection_path)
    return paths


def publish(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    fitted: FittedSegments,
    in_warehouse: bool,
    published: Publication,
    record: RunRecord,
) -> tuple[bytes, list[DbtNodeResult]]:
    """Validate the segments, replace the seeds and build them and everything downstream,
    the history included (``record`` is the run's row of ``segment_runs``).

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
        settings,
        warehouse,
        segment_source="warehouse" if in_warehouse else "seed",
        extra_env=history_env("run", [record]),
    )
    for path, data in seeds.items():
        published.replace_now(path, data)
    selectors = [f"{path.stem}+" for path in seeds] + ["segment_runs+"]
    return segments_csv, run_dbt(invocation, "build", "--select", *selectors)


def stage_outputs(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    fitted: FittedSegments,
    segments_csv: bytes,
    warnings: list[str],
    published: Publication,
    identity: RunIdentity,
    document: dict,
) -> Path | None:
    """Stage the segments CSV, the model, its metrics, the k evidence and the report.

    The model, the metrics and the k evidence record ``identity`` (the seeds and the segments
    CSV do not, so they stay byte-identical for the same input and settings). Returns the
    report's path, or None when it could not be drawn (a warning says why, and the previous
    report, which describes the previous segments, is removed with the commit).
    """
    layout = settings.layout
    published.stage(layout.segments_path, segments_csv)
    published.stage(layout.model_path, canonical_json(document).encode("utf-8"))
    metrics = fitted.metrics | identity.to_dict()
    published.stage(layout.metrics_path, canonical_json(metrics).encode("utf-8"))
    if fitted.selection is not None:
        k_selection = k_selection_document(fitted.selection, identity, features)
        published.stage(layout.k_selection_path, canonical_json(k_selection).encode("utf-8"))
    else:
        k_selection = _saved_k_selection(layout.k_selection_path)
    try:
        page = report_page(document, metrics, warehouse, k_selection, currency=settings.currency)
    except ReportError as error:
        warnings.append(f"the HTML report was not written (the previous one was removed): {error}")
        published.stage(layout.report_path, None)
        return None
    published.stage(layout.report_path, page)
    return layout.report_path


def _saved_k_selection(path: Path) -> Mapping | None:
    """The evidence for k written by the last evaluation, when there is one."""
    return read_json(path, "k selection") if path.exists() else None
