"""The commands about segments over time: ``backfill``, ``drift`` and ``refresh``.

Registered on the ``custseg`` group by :mod:`custseg.cli`; each is a thin layer over
:mod:`custseg.pipeline`, as the other commands are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from custseg.cli_errors import errors_reported
from custseg.cli_options import (
    CONFIG_OPTION,
    EXIT_CODES_HELP,
    JSON_OPTION,
    QUIET_OPTION,
    WAREHOUSE_OPTIONS,
    options,
    setting,
)
from custseg.settings import OPTIONS


@click.command(epilog=EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    click.option(
        "--from",
        "start",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        required=True,
        help="First as-of date (YYYY-MM-DD).",
    ),
    click.option(
        "--to",
        "end",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        required=True,
        help="Last as-of date (YYYY-MM-DD, included when the cadence reaches it).",
    ),
    click.option(
        "--every",
        type=click.Choice(["month", "week"]),
        default="month",
        show_default=True,
        help="Cadence of the as-of dates from --from.",
    ),
    click.option(
        "--retrain",
        is_flag=True,
        help="Fit a model on each date's customers (keeping the published ids where its "
        "segments barely moved) instead of scoring them with the published model.",
    ),
    setting(
        "data_dir",
        "Load these raw files and rebuild the features first (default: the warehouse's tables "
        "of the last run).",
    ),
    setting("dataset"),
    *WAREHOUSE_OPTIONS,
    setting("random_state"),
    setting("max_centroid_shift"),
    setting("strict_amounts"),
    JSON_OPTION,
    QUIET_OPTION,
)
def backfill(
    config_file: Path | None,
    start: dt.datetime,
    end: dt.datetime,
    every: str,
    retrain: bool,
    as_json: bool,
    quiet: bool,
    **given: Any,
) -> None:
    """Segment customers at past as-of dates and add them to the history.

    Each date counts only the orders placed before it; dbt computes the features of every date
    in one pass (customer_features_by_as_of_date), the published model scores them (or a model
    retrained per date, --retrain), and segment_memberships and segment_runs gain one batch
    per date; a date backfilled again is replaced. Needs a published run (`custseg run`).

    \b
    Example, the twelve month starts of 2019 on the real data:
        custseg backfill --from 2019-02-01 --to 2020-01-01 --every month
    """
    from custseg.config_file import settings_from
    from custseg.history.backfill import backfill_dates
    from custseg.pipeline import backfill_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, inputs = settings_from(config_file, given)
        dates = backfill_dates(start.date(), end.date(), every)  # type: ignore[arg-type]
        with progress:
            result = backfill_pipeline(
                settings, dates, retrain=retrain, inputs=inputs, progress=progress
            )
    if as_json:
        payload = {
            "run_id": result.run_id,
            "dataset": result.dataset,
            "retrained": result.retrained,
            "dates": [
                item.record.to_json_types()
                | {"segment_counts": {str(k): v for k, v in item.segment_counts.items()}}
                for item in result.dates
            ],
            "skipped_dates": [day.isoformat() for day in result.skipped_dates],
            "model_paths": [str(path) for path in result.model_paths],
            "warnings": result.warnings,
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    if quiet:
        return
    how = "retrained" if retrain else "scored with the published model"
    click.echo(f"\nBackfilled {len(result.dates)} as-of dates ({how}):")
    click.echo(f"  {'as of':<12}{'customers':>10}{'k':>3}{'silhouette':>12}{'smallest':>10}  model")
    for item in result.dates:
        record = item.record
        silhouette = f"{record.silhouette:.3f}" if record.silhouette is not None else "n/a"
        click.echo(
            f"  {record.as_of_date.isoformat():<12}{record.count_customers:>10,}"
            f"{record.count_segments:>3}{silhouette:>12}{record.smallest_segment_share:>10.1%}"
            f"  {record.model_version[:12]}"
        )
    for day in result.skipped_dates:
        click.echo(f"  {day.isoformat():<12}no customer had ordered before it: skipped")
    for warning in result.warnings:
        click.echo(f"Warning: {warning}")
    click.echo(f"Dataset {result.dataset}, run {result.run_id}")


#: ``custseg drift``'s own exit code when a figure passes its threshold.
DRIFT_EXIT_CODE = 8
DRIFT_EXIT_CODES_HELP = EXIT_CODES_HELP.replace(
    "; 130 interrupted", f"; {DRIFT_EXIT_CODE} drift past a threshold; 130 interrupted"
)


@click.command(epilog=DRIFT_EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    click.option(
        "--as-of-date",
        "as_of_date",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="As-of date of the history to check (default: the latest).",
    ),
    *WAREHOUSE_OPTIONS,
    setting("drift_psi_alarm"),
    setting("drift_share_shift_alarm"),
    setting("drift_kept_share_min"),
    JSON_OPTION,
    QUIET_OPTION,
)
def drift(
    config_file: Path | None,
    as_of_date: dt.datetime | None,
    as_json: bool,
    quiet: bool,
    **given: Any,
) -> None:
    """Check an as-of date of the history for drift; exit 8 past a threshold.

    Compares the customers of the as-of date with the previous as-of date of the history and
    with the published model's training data: population stability index of every clustering
    feature, shift of each segment's share, the share of customers who kept their segment, and
    how far each segment's centre moved (original units). Nothing is written.

    \b
    Example, in a scheduled job that alerts on exit code 8:
        custseg drift || echo "segments drifted"
    """
    from custseg.config_file import settings_from
    from custseg.progress import StepProgress
    from custseg.refresh import drift_pipeline

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, _ = settings_from(config_file, given)
        with progress:
            check = drift_pipeline(
                settings, as_of_date.date() if as_of_date else None, progress=progress
            )
    if as_json:
        payload = {
            "as_of_date": check.as_of_date.isoformat(),
            "previous_as_of_date": (
                check.previous_as_of_date.isoformat() if check.previous_as_of_date else None
            ),
            "against_training": check.against_training.to_dict(),
            "against_previous": (
                check.against_previous.to_dict() if check.against_previous else None
            ),
            "thresholds": dataclasses.asdict(check.thresholds),
            "alarms": check.alarms,
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
    elif not quiet:
        _print_drift(check)
    if check.alarms:
        sys.exit(DRIFT_EXIT_CODE)


def _print_drift(check: Any) -> None:
    thresholds = check.thresholds
    previous = check.previous_as_of_date
    click.echo(
        f"\nDrift as of {check.as_of_date} against the model's training data"
        + (f" and the previous as-of date {previous}:" if previous else ":")
    )
    reports = [("training", check.against_training), ("previous", check.against_previous)]
    click.echo(f"  {'measure':<34}{'training':>12}{'previous':>12}{'alarm past':>12}")
    features = sorted(check.against_training.feature_psi | _psi(check.against_previous))
    for feature in features:
        values = [
            _cell(report.feature_psi.get(feature) if report else None) for _, report in reports
        ]
        click.echo(
            f"  {'PSI ' + feature:<34}{values[0]:>12}{values[1]:>12}{thresholds.psi_alarm:>12.2f}"
        )
    segments = sorted(
        set(check.against_training.segment_share_shift)
        | set(check.against_previous.segment_share_shift if check.against_previous else ())
    )
    for segment in segments:
        values = [
            _cell(report.segment_share_shift.get(segment) if report else None, signed=True)
            for _, report in reports
        ]
        click.echo(
            f"  {'share shift, segment ' + str(segment):<34}{values[0]:>12}{values[1]:>12}"
            f"{thresholds.share_shift_alarm:>12.2f}"
        )
    kept = check.against_previous.kept_share if check.against_previous else None
    click.echo(
        f"  {'kept their segment':<34}{'n/a':>12}{_cell(kept):>12}"
        f"{'< ' + format(thresholds.kept_share_min, '.2f'):>12}"
    )
    for note in check.against_training.notes + (
        check.against_previous.notes if check.against_previous else []
    ):
        click.echo(f"Note: {note}")
    if check.alarms:
        click.echo("ALARM:")
        for alarm in check.alarms:
            click.echo(f"  {alarm}")
    else:
        click.echo("No figure past its threshold.")


def _psi(report: Any) -> dict:
    return dict(report.feature_psi) if report is not None else {}


def _cell(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


@click.command(epilog=EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    setting("data_dir", OPTIONS["data_dir"].help + " Required unless --config sets data_dir."),
    setting("dataset"),
    *WAREHOUSE_OPTIONS,
    setting("as_of_date"),
    setting("k"),
    setting("random_state"),
    setting("min_segment_share"),
    setting("max_centroid_shift"),
    setting("seed_max_customers"),
    setting("fit_sample_size"),
    setting("allow_unsupported_names"),
    setting("currency"),
    setting("strict_amounts"),
    setting("drift_psi_alarm"),
    setting("drift_share_shift_alarm"),
    setting("drift_kept_share_min"),
    JSON_OPTION,
    QUIET_OPTION,
)
def refresh(config_file: Path | None, as_json: bool, quiet: bool, **given: Any) -> None:
    """Refresh the published segments: score new data, retrain only on drift. Safe to repeat.

    Loads the files and builds the features; when the history already holds this as-of date
    from the current model on the same data, does nothing. Otherwise scores the customers with
    the published model, and when drift passes a threshold retrains and publishes the retrained
    model only if it is not worse (silhouette, bootstrap stability, smallest segment, names
    supported); else keeps the published one and says why. Without a published model, runs
    `custseg run`.

    \b
    Example, from cron every night:
        custseg refresh --config custseg.toml --quiet
    """
    from custseg.config_file import settings_from
    from custseg.progress import StepProgress
    from custseg.refresh import refresh_pipeline

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, inputs = settings_from(config_file, given)
        with progress:
            result = refresh_pipeline(settings, inputs, progress=progress)
    if as_json:
        payload = {
            "action": result.action,
            "as_of_date": result.as_of_date.isoformat() if result.as_of_date else None,
            "reasons": result.reasons,
            "run_id": result.run.run_id if result.run else None,
            "published_quality": (
                result.published_quality.to_dict() if result.published_quality else None
            ),
            "retrained_quality": (
                result.retrained_quality.to_dict() if result.retrained_quality else None
            ),
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    if quiet:
        return
    click.echo(f"\nRefresh as of {result.as_of_date}: {result.action}")
    for reason in result.reasons:
        click.echo(f"  {reason}")
    if result.run is not None:
        click.echo(f"Published run {result.run.run_id}: {result.run.n_customers:,} customers")
