"""``custseg backfill``: segment customers at past as-of dates and fill the history.

The features of every date are computed by dbt in one set-based pass
(``customer_features_by_as_of_date``: per date, each customer's orders placed before it, by the
macro ``customer_features`` uses). Each date is then scored with the published model, or with a
model retrained on that date's customers (``retrain``), which keeps the published ids where its
segments barely moved (as a run keeps the previous model's). The models are published as the
seed ``backfill_model_parameters``; dbt scores every customer at every date in SQL
(``segment_scores_by_as_of_date``) and adds the dates to the history. Publication is one unit:
a failure puts the seed and the history back as they were.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import ConfigError, CustsegError, PublishError
from custseg.features import (
    FEATURES_BY_DATE_MODEL,
    CustomerFeatures,
    build_feature_models,
    read_features_by_as_of_date,
)
from custseg.history.records import RunRecord, history_env, run_record
from custseg.ingest.mapping import InputSpec
from custseg.model.fitting import Progress, fit_segments, model_metadata, silent
from custseg.model.metrics import evaluate_segmentation
from custseg.model.model_file import (
    canonical_json,
    load_model,
    model_document,
)
from custseg.model.segmenter import CustomerSegmenter
from custseg.publish.publication import HISTORY_TABLES, MOVE_TABLES, publication
from custseg.publish.seeds import render_model_parameters_csv
from custseg.run_identity import run_identity
from custseg.settings import SILHOUETTE_SAMPLE_SIZE, Settings, header_line
from custseg.warehouses import Warehouse, as_date

Cadence = Literal["month", "week"]

#: The tables a backfill publishes, in the order dbt builds them.
BACKFILL_TABLES = (
    "backfill_model_parameters",
    "segment_scores_by_as_of_date",
    *HISTORY_TABLES,
    *MOVE_TABLES,
)
#: At most this many as-of dates in one backfill (ten years of weeks).
MAX_BACKFILL_DATES = 520


@dataclass(frozen=True)
class BackfilledDate:
    """One as-of date of a backfill: its run record and each segment's customers."""

    record: RunRecord
    segment_counts: dict[int, int]


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill added to the history."""

    run_id: str
    dataset: str
    retrained: bool
    dates: list[BackfilledDate]
    # Requested dates no customer had ordered before (nothing to segment there).
    skipped_dates: list[dt.date]
    # Retrained models' files (``retrain``), else empty.
    model_paths: list[Path]
    warnings: list[str]


def backfill_dates(start: dt.date, end: dt.date, every: Cadence) -> list[dt.date]:
    """The as-of dates from ``start`` to ``end``, both included, a month or a week apart.

    Monthly dates keep the day of the month of ``start`` (the last day of a shorter month when
    it has none: 31 January, 28 February, 31 March...).

    Raises
    ------
    ConfigError
        ``end`` is before ``start``, the cadence is unknown, or there are more than
        :data:`MAX_BACKFILL_DATES` dates.
    """
    if every not in ("month", "week"):
        raise ConfigError(f"--every must be 'month' or 'week', got {every!r}.")
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}: give the earlier date first.")
    dates = []
    index = 0
    while True:
        day = months_after(start, index) if every == "month" else start + dt.timedelta(weeks=index)
        if day > end:
            return dates
        dates.append(day)
        index += 1
        if len(dates) > MAX_BACKFILL_DATES:
            raise ConfigError(
                f"{start} to {end} every {every} is more than {MAX_BACKFILL_DATES} as-of dates: "
                "backfill a shorter range, or every month instead of every week."
            )


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later (earlier when negative), the month's last day
    when it has none."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def backfill(
    settings: Settings,
    warehouse: Warehouse,
    dates: Sequence[dt.date],
    *,
    retrain: bool = False,
    inputs: Sequence[InputSpec] = (),
    progress: Progress = silent,
) -> BackfillResult:
    """Segment the customers at each of ``dates`` and add them to the history.

    The warehouse must hold a published run (its model scores the dates, or seeds the ids of
    the retrained ones). With ``settings.data_dir`` the raw files are loaded and the features
    rebuilt first; the dates must not be after the warehouse's as-of date (its orders stop
    there).

    Raises
    ------
    ConfigError
        No published model, or a date after the warehouse's as-of date.
    InsufficientDataError, SegmentationError
        ``retrain``: a date's customers cannot be segmented (the message names the date).
    PublishError
        dbt failed: nothing was added to the history.
    """
    layout = settings.layout
    if not layout.model_path.exists():
        raise ConfigError(
            f"No published model at {layout.model_path}: `custseg backfill` scores past dates "
            "with it (or keeps its ids when retraining). Run `custseg run` first."
        )
    published, document = load_model(layout.model_path)
    identity = run_identity(settings, inputs, fallback=document.get("metadata", {}).get("dataset"))
    if settings.data_dir is not None:
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        warehouse.load_raw(settings.data_dir, inputs, strict_amounts=settings.strict_amounts)
        progress("Building staging models and customer features with dbt")
        build_feature_models(settings, warehouse, just_loaded=True)
    _check_dates_within_data(warehouse, dates)
    progress(f"Computing the features at {len(dates)} as-of dates in one pass")
    run_dbt(
        invocation_for(settings, warehouse, extra_env=history_env("none", backfill_dates=dates)),
        "build",
        "--select",
        f"+{FEATURES_BY_DATE_MODEL}",
        "--exclude",
        "+customer_features",
        "--indirect-selection",
        "cautious",
    )
    features_by_date = read_features_by_as_of_date(warehouse)
    skipped = [day for day in dates if day not in features_by_date]
    scored: list[tuple[CustomerFeatures, CustomerSegmenter, np.ndarray, RunRecord, dict | None]]
    scored = []
    warnings: list[str] = []
    for day, features in features_by_date.items():
        progress(
            f"{'Retraining on' if retrain else 'Scoring'} {len(features.customer_ids):,} "
            f"customers as of {day}"
        )
        if retrain:
            segmenter, labels, model, day_warnings = _retrained(
                settings, features, published, identity.to_dict()
            )
            warnings += [f"as of {day}: {warning}" for warning in day_warnings]
            version = model["integrity"]["sha256"]
        else:
            segmenter, labels, model = published, published.predict(features.matrix), None
            version = document["integrity"]["sha256"]
        metrics = evaluate_segmentation(
            segmenter.scale(features.matrix),
            labels,
            inertia=segmenter.inertia(features.matrix),
            random_state=settings.random_state,
            silhouette_sample_size=SILHOUETTE_SAMPLE_SIZE,
        )
        record = run_record(
            as_of_date=day,
            run_id=identity.run_id,
            model_version=version,
            dataset=identity.dataset,
            segmenter=segmenter,
            labels=labels,
            input_fingerprint=features.fingerprint,
            silhouette=metrics.get("silhouette"),
            bootstrap_stability=None,
            retrained=retrain,
        )
        scored.append((features, segmenter, labels, record, model))
    model_paths = [history_model_path(settings, item[0].as_of_date) for item in scored if retrain]
    seed_path = layout.published_seed_paths["backfill_model_parameters"]
    progress("Publishing the models of the dates and adding them to the history with dbt")
    with publication(
        layout, warehouse, [seed_path, *model_paths], tables=BACKFILL_TABLES
    ) as published_files:
        published_files.replace_now(
            seed_path,
            render_backfill_parameters_csv([(item[0].as_of_date, item[1]) for item in scored]),
        )
        run_dbt(
            invocation_for(
                settings,
                warehouse,
                extra_env=history_env(
                    "backfill", [item[3] for item in scored], backfill_dates=dates
                ),
            ),
            "build",
            "--select",
            "backfill_model_parameters+",
            "segment_runs+",
            "move_model_terms",
        )
        _check_history_counts(warehouse, scored)
        for path, (_, _, _, _, model) in zip(model_paths, scored, strict=False):
            published_files.stage(path, canonical_json(model).encode("utf-8"))
    return BackfillResult(
        run_id=identity.run_id,
        dataset=identity.dataset,
        retrained=retrain,
        dates=[
            BackfilledDate(
                record=item[3],
                segment_counts={
                    int(sid): int(np.count_nonzero(item[2] == sid)) for sid in item[1].segment_ids_
                },
            )
            for item in scored
        ],
        skipped_dates=skipped,
        model_paths=model_paths,
        warnings=warnings,
    )


def history_model_path(settings: Settings, day: dt.date) -> Path:
    """Where a backfill keeps the model it retrained for the as-of date ``day``."""
    return settings.layout.output_dir / "history" / f"segment_model_{day.isoformat()}.json"


def render_backfill_parameters_csv(models: Sequence[tuple[dt.date, CustomerSegmenter]]) -> bytes:
    """The seed ``backfill_model_parameters``: each date's rows of ``segment_model_parameters``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    buffer.write(header_line("backfill_model_parameters").decode("utf-8"))
    for day, segmenter in models:
        rows = render_model_parameters_csv(segmenter).decode("utf-8").splitlines()[1:]
        for row in csv.reader(rows):
            writer.writerow([day.isoformat(), *row])
    return buffer.getvalue().encode("utf-8")


def _retrained(
    settings: Settings,
    features: CustomerFeatures,
    published: CustomerSegmenter,
    identity: dict[str, str],
) -> tuple[CustomerSegmenter, np.ndarray, dict, list[str]]:
    """A model fitted on one date's customers with the published k, keeping its ids; its
    document (model file) is returned too. Names its profile does not support are kept and
    reported (the history records that they did not hold), never refused."""
    day_settings = dataclasses.replace(
        settings,
        k=settings.n_segments or len(published.segment_ids_),
        allow_unsupported_names=True,
    )
    try:
        fitted = fit_segments(features.matrix, day_settings, published, silent, features.rhythm)
    except CustsegError as error:
        raise type(error)(f"as of {features.as_of_date}: {error}") from error
    model = model_document(
        fitted.segmenter,
        metadata=model_metadata(
            day_settings,
            fitted,
            features.customer_ids,
            features.matrix,
            features.as_of_date,
            identity,
            input_fingerprint=features.fingerprint,
        ),
    )
    return fitted.segmenter, fitted.labels, model, fitted.warnings


def _check_dates_within_data(warehouse: Warehouse, dates: Sequence[dt.date]) -> None:
    """Refuse dates after the warehouse's as-of date: its orders stop there."""
    ((as_of_date,),) = warehouse.fetch(
        f"select as_of_date from {warehouse.relation('int_as_of_date')}"
    )
    as_of = as_date(as_of_date)
    late = [day for day in dates if day > as_of]
    if late:
        raise ConfigError(
            f"As-of date {late[0]} is after the warehouse's as-of date {as_of} (the orders it "
            f"holds stop there): backfill up to {as_of}, or run `custseg run` with a later "
            "--as-of-date first."
        )


def _check_history_counts(warehouse: Warehouse, scored: Sequence[tuple]) -> None:
    """The warehouse's scores must give every segment at every date the customers Python
    counted (SQL and Python score alike; a difference means a model was published wrongly)."""
    relation = warehouse.relation("segment_memberships")
    dates = ", ".join(f"cast('{item[0].as_of_date.isoformat()}' as date)" for item in scored)
    if not dates:
        return
    rows = warehouse.fetch(
        f"select as_of_date, segment_id, count(*) from {relation} "
        f"where as_of_date in ({dates}) group by as_of_date, segment_id"
    )
    in_sql = {(str(day)[:10], int(sid)): int(count) for day, sid, count in rows}
    in_python = {
        (item[0].as_of_date.isoformat(), int(sid)): int(np.count_nonzero(item[2] == sid))
        for item in scored
        for sid in item[1].segment_ids_
        if np.count_nonzero(item[2] == sid)
    }
    if in_sql != in_python:
        different = sorted(set(in_sql.items()) ^ set(in_python.items()))[:3]
        raise PublishError(
            "The warehouse scored the backfill's customers differently from custseg (as-of date, "
            f"segment id, customers): {different}. Nothing was added to the history; please "
            "report this with the model files."
        )
