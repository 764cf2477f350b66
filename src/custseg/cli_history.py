"""The commands about segments over time: ``custseg backfill`` (and, later, drift and refresh).

Registered on the ``custseg`` group by :mod:`custseg.cli`; each is a thin layer over
:mod:`custseg.pipeline`, as the other commands are.
"""

from __future__ import annotations

import datetime as dt
import json
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
