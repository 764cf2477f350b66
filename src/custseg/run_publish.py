"""The publish stage of a run: seeds, mart and history through dbt, then the ML step's files.

:func:`publish_run` publishes a fitted model as one unit
(:func:`custseg.publish.publication.publication`): the seeds in the git-ignored
``dbt_pipeline/seeds/published``, the tables dbt builds from them (the mart and the history
included) and the segments CSV, model, metrics, k evidence and report in ``ml_pipeline/models``
are all the previous ones or all the new ones. ``custseg run`` and ``custseg refresh`` end here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custseg.catalogue import SEGMENT_NAMES
from custseg.dbt.runner import DbtNodeResult, invocation_for, run_dbt
from custseg.features import CustomerFeatures
from custseg.history import RunRecord, history_env, record_of_run
from custseg.ingest.layout import LoadedTable
from custseg.ingest.staging import repair_messages
from custseg.model.evaluation import KSelection
from custseg.model.fitting import (
    FittedSegments,
    Progress,
    model_metadata,
    scored_in_warehouse,
    silent,
)
from custseg.model.model_file import (
    canonical_json,
    model_document,
)
from custseg.monitoring.drift_report import DriftThresholds
from custseg.publish.publication import Publication, publication
from custseg.publish.seeds import (
    SEGMENTS_HEADER_LINE,
    render_feature_bins_csv,
    render_model_parameters_csv,
    render_segment_definitions_csv,
    render_segments_csv,
)
from custseg.publish.validation import validate_segments_csv
from custseg.report import ReportError, read_json, report_page
from custseg.run_identity import RunIdentity
from custseg.run_result import RunResult, StageClock, summarize_mart
from custseg.settings import Settings
from custseg.warehouses import Warehouse

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest


@dataclass
class RunContext:
    """What a run gathered before publishing: its clock, the raw tables it loaded (none when
    it reused the warehouse's), the warnings and notes for the user, and the dbt project as
    the run parsed it (None: the publication's dbt call parses it)."""

    clock: StageClock
    loaded: list[LoadedTable]
    warnings: list[str]
    notes: list[str]
    manifest: Manifest | None = None


def publish_run(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    fitted: FittedSegments,
    identity: RunIdentity,
    context: RunContext,
    progress: Progress = silent,
    document: dict | None = None,
) -> RunResult:
    """Publish ``fitted`` (seeds, mart, history, segments CSV, model, metrics, report) as one
    unit and return the run's result. ``document`` is the model file to publish; None: the
    document of ``fitted`` for this run (a refresh that keeps the published model passes its
    document, so the model file and its version stay the same)."""
    layout = settings.layout
    progress("Publishing the seeds, scoring customers in SQL and building fct_customer_segments")
    in_warehouse = scored_in_warehouse(len(features.customer_ids), settings)
    if document is None:
        document = run_model_document(settings, fitted, features, identity)
    record = record_of_run(document, fitted, features, identity)
    with publication(layout, warehouse, published_paths(settings, fitted)) as published:
        segments_csv, dbt_results = publish(
            settings,
            warehouse,
            features,
            fitted,
            in_warehouse,
            published,
            record,
            document,
            context.manifest,
        )
        context.clock.record_dbt(dbt_results)
        context.clock.lap("publish")
        progress("Writing the segments CSV, model, metrics and HTML report")
        report_path = stage_outputs(
            settings,
            warehouse,
            features,
            fitted,
            segments_csv,
            context.warnings,
            published,
            identity,
            document,
        )
    segments = summarize_mart(warehouse)
    context.clock.lap("outputs")
    return RunResult(
        run_id=identity.run_id,
        dataset=identity.dataset,
        as_of_date=features.as_of_date,
        n_customers=len(features.customer_ids),
        n_segments=fitted.n_segments,
        loaded_tables=context.loaded,
        segments=segments,
        silhouette=fitted.metrics.get("silhouette"),
        warnings=context.warnings,
        matching=fitted.match.to_dict() if fitted.match else None,
        segments_scored_in_warehouse=in_warehouse,
        stage_seconds=context.clock.seconds,
        warehouse=warehouse.describe(),
        duckdb_path=settings.duckdb_path if settings.target == "duckdb" else None,
        seed_path=layout.segments_seed_path,
        segments_path=layout.segments_path,
        model_path=layout.model_path,
        metrics_path=layout.metrics_path,
        report_path=report_path,
        repairs=repair_messages(context.loaded),
        notes=context.notes,
    )


def k_selection_document(
    selection: KSelection, identity: RunIdentity, features: CustomerFeatures
) -> dict:
    """``k_selection.json``: the evidence for k, the run that wrote it and the data it judged
    (the report shows it only beside a model of the same dataset and fingerprint)."""
    return selection.to_dict() | identity.to_dict() | {"input_fingerprint": features.fingerprint}


def run_model_document(
    settings: Settings, fitted: FittedSegments, features: CustomerFeatures, identity: RunIdentity
) -> dict:
    """The model file of ``fitted``, fitted by the run ``identity`` on ``features``."""
    return model_document(
        fitted.segmenter,
        metadata=model_metadata(
            settings,
            fitted,
            features.customer_ids,
            features.matrix,
            features.as_of_date,
            identity.to_dict(),
            input_fingerprint=features.fingerprint,
        ),
        drift_reference=fitted.drift_reference,
    )


def published_paths(settings: Settings, fitted: FittedSegments) -> list[Path]:
    """Every file a run publishes: the seeds, then the ML step's outputs."""
    layout = settings.layout
    paths = [
        layout.segments_seed_path,
        layout.definitions_seed_path,
        layout.parameters_seed_path,
        layout.feature_bins_seed_path,
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
    document: Mapping,
    manifest: Manifest | None = None,
) -> tuple[bytes, list[DbtNodeResult]]:
    """Validate the segments, replace the seeds and build them and everything downstream,
    the history included (``record`` is the run's row of ``segment_runs``; ``manifest`` the
    project as the run parsed it, None: dbt parses it).

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
        layout.feature_bins_seed_path: render_feature_bins_csv(document),
    }
    invocation = invocation_for(
        settings,
        warehouse,
        segment_source="warehouse" if in_warehouse else "seed",
        extra_env=history_env("run", [record]),
    )
    for path, data in seeds.items():
        published.replace_now(path, data)
    selectors = publication_selectors(settings)
    return segments_csv, run_dbt(invocation, "build", "--select", *selectors, manifest=manifest)


def publication_selectors(settings: Settings) -> list[str]:
    """The dbt selection a publication builds: the seeds it replaces and the history's run
    records (``segment_runs``), each with everything downstream, and the move model's terms."""
    layout = settings.layout
    seeds = (
        layout.segments_seed_path,
        layout.definitions_seed_path,
        layout.parameters_seed_path,
        layout.feature_bins_seed_path,
    )
    return [f"{path.stem}+" for path in seeds] + ["segment_runs+", "move_model_terms"]


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
        k_selection = saved_k_selection(layout.k_selection_path)
    try:
        page = report_page(
            document,
            metrics,
            warehouse,
            k_selection,
            currency=settings.currency,
            drift_thresholds=DriftThresholds.from_settings(settings),
        )
    except ReportError as error:
        warnings.append(f"the HTML report was not written (the previous one was removed): {error}")
        published.stage(layout.report_path, None)
        return None
    published.stage(layout.report_path, page)
    return layout.report_path


def saved_k_selection(path: Path) -> Mapping | None:
    """The evidence for k written by the last evaluation, when there is one."""
    return read_json(path, "k selection") if path.exists() else None
