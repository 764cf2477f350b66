"""``custseg refresh``: keep the published segments fresh, safely, from cron or an orchestrator.

One refresh loads the raw files, builds the features and then, holding the run locks:

1. **Nothing new** (``unchanged``): the history already holds this as-of date, published with the
   current model on features with the same fingerprint. Nothing is published; a second refresh
   of the same data is a no-op, so a scheduler may retry freely.
2. **No drift** (``scored``): the published model scores the customers; its file is published
   again byte for byte (same model version), the seeds, mart and history get today's segments.
3. **Drift** past a threshold (the ``drift_*`` settings) against the model's training data or the
   previous published as-of date: a model is retrained on today's customers (keeping the published
   ids where segments barely moved) and its quality compared with the published model's on the
   same customers (:mod:`custseg.model.quality`). Not worse: it is published (``retrained``).
   Worse: the published model scores the customers instead and the result says why (``kept``).

Without a published model the refresh is a first ``custseg run`` (``first``).

The decision itself (:func:`decide_refresh`) is shared with the orchestrated model step's
``refresh`` policy (:func:`custseg.steps.model_step`), which the Dagster schedule runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from custseg.errors import ConfigError
from custseg.features import CustomerFeatures, build_features, parse_dbt_project
from custseg.ingest.mapping import InputSpec
from custseg.model.drift_reference import drift_reference_of
from custseg.model.fitting import (
    FittedSegments,
    Progress,
    fit_segments,
    fitted_from_model,
    silent,
)
from custseg.model.model_file import load_model
from custseg.model.quality import ModelQuality, measure_quality, worse_on
from custseg.model.segmenter import CustomerSegmenter
from custseg.monitoring.drift import (
    DriftReport,
    DriftThresholds,
    Segmentation,
    drift_against_previous,
    drift_against_training,
)
from custseg.pipeline import run_pipeline
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.session import opened, repair_interrupted_publication
from custseg.run_identity import run_identity
from custseg.run_publish import RunContext, publish_run
from custseg.run_result import RunResult, StageClock
from custseg.settings import Settings
from custseg.warehouses import Warehouse, as_date

RefreshAction = Literal["first", "unchanged", "scored", "retrained", "kept"]


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did and why."""

    action: RefreshAction
    as_of_date: dt.date | None
    # One sentence per reason for the action (the drift alarms, the quality comparison).
    reasons: list[str]
    # Drift against the model's training data and against the previous published as-of date
    # (None: not measured, e.g. nothing new or a first run).
    drift_against_training: DriftReport | None = None
    drift_against_previous: DriftReport | None = None
    # The published and the retrained model's quality on today's customers (drift only).
    published_quality: ModelQuality | None = None
    retrained_quality: ModelQuality | None = None
    # The run that was published (None: nothing was published).
    run: RunResult | None = None
    notes: list[str] = field(default_factory=list)


def refresh_pipeline(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> RefreshResult:
    """Refresh the published segments from ``settings.data_dir`` (see the module docstring).

    Raises
    ------
    ConfigError
        No data folder.
    """
    if settings.data_dir is None:
        raise ConfigError(
            "No data folder: pass --data-dir DIR (or set data_dir in the config file) so the "
            "refresh can load the latest files."
        )
    if not settings.layout.model_path.exists():
        progress("No published model yet: this refresh is a first run")
        run = run_pipeline(settings, inputs, progress)
        return RefreshResult("first", run.as_of_date, ["no model was published yet"], run=run)
    clock = StageClock()
    identity = run_identity(settings, inputs)
    check_writable(settings)
    with opened(settings) as warehouse:
        repaired = repair_interrupted_publication(settings, warehouse, progress)
        published, document = load_model(settings.layout.model_path)
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        loaded = warehouse.load_raw(
            settings.data_dir, inputs, strict_amounts=settings.strict_amounts
        )
        clock.lap("load")
        progress("Building staging models and customer features with dbt")
        manifest = parse_dbt_project(settings, warehouse)
        features = build_features(settings, warehouse, manifest, just_loaded=True)
        clock.lap("features")
        decision = decide_refresh(
            settings, warehouse, features, (published, document), progress, clock
        )
        if decision.fitted is None:
            return RefreshResult("unchanged", features.as_of_date, decision.reasons)
        context = RunContext(clock, loaded, list(repaired), [], manifest)
        if decision.document is None:
            context.warnings.extend(decision.fitted.warnings)
        run = publish_run(
            settings,
            warehouse,
            features,
            decision.fitted,
            identity,
            context,
            progress,
            decision.document,
        )
        return RefreshResult(
            decision.action,
            features.as_of_date,
            decision.reasons,
            drift_against_training=decision.drift_against_training,
            drift_against_previous=decision.drift_against_previous,
            published_quality=decision.published_quality,
            retrained_quality=decision.retrained_quality,
            run=run,
        )


@dataclass(frozen=True)
class RefreshDecision:
    """What a refresh publishes, decided before publishing (:func:`decide_refresh`)."""

    action: RefreshAction
    reasons: list[str]
    # The segments to publish; None when there is nothing new (``unchanged``).
    fitted: FittedSegments | None
    # The model file to publish: the published model's document when it is kept (``scored``,
    # ``kept``); None when the retrained model is published (its own document) or nothing is.
    document: dict | None
    drift_against_training: DriftReport | None = None
    drift_against_previous: DriftReport | None = None
    published_quality: ModelQuality | None = None
    retrained_quality: ModelQuality | None = None


def decide_refresh(
    settings: Settings,
    warehouse: Warehouse,
    features: CustomerFeatures,
    published_model: tuple[CustomerSegmenter, dict],
    progress: Progress = silent,
    clock: StageClock | None = None,
) -> RefreshDecision:
    """The refresh policy (the module docstring) applied to ``features``, as built in
    ``warehouse``, given the published model and its model file document.

    ``custseg refresh`` and the orchestrated model step (``custseg.steps.model_step`` with the
    ``refresh`` policy) both decide here; nothing is written. ``clock`` gets the laps
    ``drift`` and, when a model was retrained, ``fit``.
    """
    published, document = published_model
    version = document["integrity"]["sha256"]
    if _already_published(warehouse, features.as_of_date, features.fingerprint, version):
        return RefreshDecision(
            "unchanged",
            [
                f"as-of date {features.as_of_date} is already published with model "
                f"{version[:12]} on the same data: nothing to do"
            ],
            fitted=None,
            document=None,
        )
    scored = fitted_from_model(published, document, features.matrix, retrained=False)
    now = Segmentation(features.customer_ids, features.matrix, scored.labels)
    against_training = drift_against_training(document, now)
    previous = _previous_segmentation(warehouse, features.as_of_date)
    against_previous = (
        None
        if previous is None
        else drift_against_previous(now, previous, drift_reference_of(document))
    )
    alarms = _alarms(DriftThresholds.from_settings(settings), against_training, against_previous)
    if clock is not None:
        clock.lap("drift")
    drift = dict(drift_against_training=against_training, drift_against_previous=against_previous)
    if not alarms:
        progress("No drift past the thresholds: scoring with the published model")
        return RefreshDecision(
            "scored", ["no drift past the thresholds"], scored, document, **drift
        )
    progress("Drift past the thresholds: retraining and comparing with the published model")
    retrained = fit_segments(features.matrix, settings, published, progress, features.rhythm)
    silence = None if features.rhythm is None else features.rhythm.silence
    qualities = dict(
        published_quality=measure_quality(
            published,
            features.matrix,
            scored.labels,
            silence=silence,
            random_state=settings.random_state,
        ),
        retrained_quality=measure_quality(
            retrained.segmenter,
            features.matrix,
            retrained.labels,
            silence=silence,
            random_state=settings.random_state,
        ),
    )
    worse = worse_on(
        qualities["retrained_quality"],
        qualities["published_quality"],
        min_segment_share=settings.min_segment_share,
    )
    if clock is not None:
        clock.lap("fit")
    if worse:
        progress("The retrained model is worse: keeping the published one")
        reasons = alarms + [f"retrained model not published, worse on: {'; '.join(worse)}"]
        return RefreshDecision("kept", reasons, scored, document, **drift, **qualities)
    reasons = alarms + ["retrained model published: not worse on any quality measure"]
    return RefreshDecision("retrained", reasons, retrained, None, **drift, **qualities)


@dataclass(frozen=True)
class DriftCheck:
    """``custseg drift``: an as-of date of the history against the previous one and against
    the published model's training data."""

    as_of_date: dt.date
    previous_as_of_date: dt.date | None
    against_training: DriftReport
    against_previous: DriftReport | None
    thresholds: DriftThresholds
    # One sentence per threshold passed (none: no alarm).
    alarms: list[str]


def drift_pipeline(
    settings: Settings, as_of_date: dt.date | None = None, progress: Progress = silent
) -> DriftCheck:
    """Measure the drift of the history's ``as_of_date`` (default: the latest). Nothing is
    written.

    Raises
    ------
    ConfigError
        No published model, no history, or no such as-of date in it.
    """
    require_built_warehouse(settings)
    if not settings.layout.model_path.exists():
        raise ConfigError(
            f"No published model at {settings.layout.model_path}: run `custseg run` first."
        )
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        _, document = load_model(settings.layout.model_path)
        latest = _latest_date(warehouse)
        if latest is None:
            raise ConfigError(
                "The history is empty: run `custseg run` (or `custseg backfill`) first."
            )
        day = as_of_date or latest
        if _latest_date(warehouse, before=day + dt.timedelta(days=1)) != day:
            raise ConfigError(
                f"The history holds no as-of date {day}: pick one it holds (the latest is "
                f"{latest}), or backfill it with `custseg backfill`."
            )
        now = _segmentation_at(warehouse, day)
        previous_day = _latest_date(warehouse, before=day)
        against_training = drift_against_training(document, now)
        against_previous = (
            None
            if previous_day is None
            else drift_against_previous(
                now, _segmentation_at(warehouse, previous_day), drift_reference_of(document)
            )
        )
    thresholds = DriftThresholds.from_settings(settings)
    return DriftCheck(
        as_of_date=day,
        previous_as_of_date=previous_day,
        against_training=against_training,
        against_previous=against_previous,
        thresholds=thresholds,
        alarms=_alarms(thresholds, against_training, against_previous),
    )


def _alarms(
    thresholds: DriftThresholds, training: DriftReport, previous: DriftReport | None
) -> list[str]:
    """Every threshold passed, as sentences naming what they compare with."""
    return [
        f"{alarm.message} (against the {label})"
        for label, report in (("training data", training), ("previous as-of date", previous))
        if report is not None
        for alarm in report.alarms(thresholds)
    ]


def _already_published(
    warehouse: Warehouse, as_of_date: dt.date, fingerprint: str, version: str
) -> bool:
    """Whether the history holds ``as_of_date`` published by ``version`` on these features."""
    if not warehouse.table_exists("segment_runs"):
        return False
    rows = warehouse.fetch(
        f"select input_fingerprint, model_version from {warehouse.relation('segment_runs')} "
        f"where as_of_date = cast('{as_of_date.isoformat()}' as date)"
    )
    return any(row[0] == fingerprint and row[1] == version for row in rows)


def _previous_segmentation(warehouse: Warehouse, as_of_date: dt.date) -> Segmentation | None:
    """The customers of the latest published as-of date before ``as_of_date``, if any."""
    previous = _latest_date(warehouse, before=as_of_date)
    return None if previous is None else _segmentation_at(warehouse, previous)


def _latest_date(warehouse: Warehouse, before: dt.date | None = None) -> dt.date | None:
    """The history's latest as-of date (before ``before`` when given), None when empty."""
    if not warehouse.table_exists("segment_memberships"):
        return None
    where = "" if before is None else f" where as_of_date < cast('{before.isoformat()}' as date)"
    ((latest,),) = warehouse.fetch(
        f"select max(as_of_date) from {warehouse.relation('segment_memberships')}{where}"
    )
    if latest is None:
        return None
    return as_date(latest)


def _segmentation_at(warehouse: Warehouse, day: dt.date) -> Segmentation:
    """The customers of the history at ``day``: their features and segments."""
    names = ("customer_id", "recency_days", "count_orders", "lifetime_revenue", "avg_order_value")
    columns = warehouse.fetch_columns(
        f"select {', '.join(names)}, segment_id from {warehouse.relation('segment_memberships')} "
        f"where as_of_date = cast('{day.isoformat()}' as date)",
        (*names, "segment_id"),
    )
    matrix = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in names[1:]])
    return Segmentation(
        [str(value) for value in columns["customer_id"]],
        matrix,
        np.asarray(columns["segment_id"], dtype=np.int64),
    )
