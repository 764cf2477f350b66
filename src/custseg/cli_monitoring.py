"""The commands that keep segments fresh: ``custseg drift`` and ``custseg refresh``.

Registered on the ``custseg`` group by :mod:`custseg.cli`; each is a thin layer over
:mod:`custseg.refresh`, as the other commands are over :mod:`custseg.pipeline`.
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
    RUN_OPTIONS,
    WAREHOUSE_OPTIONS,
    options,
    setting,
)

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
@options(*RUN_OPTIONS, JSON_OPTION, QUIET_OPTION)
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
