"""The commands about the history: ``custseg backfill`` and ``custseg moves``.

Registered on the ``custseg`` group by :mod:`custseg.cli`; each is a thin layer over
:mod:`custseg.pipeline`, as the other commands are.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from custseg.history.moves import MovesResult


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


@click.command(epilog=EXIT_CODES_HELP)
@options(CONFIG_OPTION, *WAREHOUSE_OPTIONS, JSON_OPTION, QUIET_OPTION)
def moves(config_file: Path | None, as_json: bool, quiet: bool, **given: Any) -> None:
    """Learn who is about to lapse from the history, and list them in the warehouse.

    Trains a model of next period's segment (multinomial logistic regression on each customer's
    recency, orders, order value and segment) on the history's pairs of consecutive as-of dates,
    checks it on the last pair against the plain transition matrix (log loss, Brier score,
    precision at the top 10% for At-Risk), then publishes it (ml_pipeline/models/move_model.json,
    seed move_model_terms) and fct_at_risk_candidates: the customers of the latest date, most
    likely to be At-Risk next first, with the features that drive it. Needs three as-of dates
    in the history (`custseg backfill`). Exits 0 whether or not the model beats the matrix.

    \b
    Example, after a run and a monthly backfill of 2019 on the real data:
        custseg backfill --from 2019-02-01 --to 2020-01-01 --every month
        custseg moves
    """
    from custseg.config_file import settings_from
    from custseg.pipeline import moves_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, _ = settings_from(config_file, given)
        with progress:
            result = moves_pipeline(settings, progress=progress)
    if as_json:
        click.echo(json.dumps(moves_payload(result), indent=2, sort_keys=True))
    elif not quiet:
        for line in moves_lines(result):
            click.echo(line)


def moves_payload(result: MovesResult) -> dict[str, Any]:
    """``custseg moves --json``: the evaluation, the dates and the top of the at-risk list."""
    return {
        "evaluation": result.evaluation.to_dict(),
        "as_of_dates": [day.isoformat() for day in result.as_of_dates],
        "scored_as_of_date": result.scored_as_of_date.isoformat(),
        "count_candidates": result.count_candidates,
        "top_candidates": [
            {
                "rank": c.rank,
                "customer_id": c.customer_id,
                "segment_id": c.segment_id,
                "segment_name": c.segment_name,
                "at_risk_probability": c.probability,
                "recency_days": c.recency_days,
                "count_orders": c.count_orders,
                "avg_order_value": c.avg_order_value,
                "drivers": [{"term": term, "contribution": value} for term, value in c.drivers],
            }
            for c in result.top
        ],
        "model_path": str(result.model_path),
    }


def moves_lines(result: MovesResult) -> list[str]:
    """The evaluation in plain words, then the top of the at-risk list."""
    e = result.evaluation
    verdict = (
        "The model beats the transition matrix (lower log loss)."
        if e.beats_baseline
        else "The model does NOT beat the transition matrix: its log loss is not lower. Trust "
        "the list no more than the segment averages of fct_segment_transitions."
    )
    lines = [
        f"\nOut-of-time check: trained on the pairs of {e.train_dates[0]} to {e.train_dates[1]} "
        f"({e.train_customers:,} customer moves), tested on {e.test_dates[0]} -> "
        f"{e.test_dates[1]} ({e.test_customers:,} customers).",
        f"  {'':<32}{'model':>10}{'matrix':>10}",
        f"  {'log loss (nats, lower=better)':<32}{e.model_log_loss:>10.4f}"
        f"{e.baseline_log_loss:>10.4f}",
        f"  {'Brier score (lower=better)':<32}{e.model_brier:>10.4f}{e.baseline_brier:>10.4f}",
        f"  {f'precision at top {e.top_share:.0%}':<32}{_share(e.model_precision_at_top):>10}"
        f"{_share(e.baseline_precision_at_top):>10}",
        f"  Of the {e.top_customers:,} candidates ranked highest (top {e.top_share:.0%} of those "
        f"not At-Risk), the share who became At-Risk; base rate of all candidates: "
        f"{_share(e.base_rate)}.",
        verdict,
    ]
    if e.unseen_states:
        lines.append(f"Next states never seen in training (scored at the floor): {e.unseen_states}")
    lines.append(
        f"\nMost likely to be At-Risk (Lapsing) after {result.scored_as_of_date} "
        f"(top {len(result.top)} of {result.count_candidates:,}; all in fct_at_risk_candidates):"
    )
    if not result.top:
        lines.append("  nobody: the model never saw a customer move into At-Risk.")
    lines.append(
        f"  {'rank':>4}  {'customer':<12}{'segment':<24}{'p':>6}{'recency':>8}{'orders':>7}"
        f"{'value':>9}  drivers"
    )
    for c in result.top:
        drivers = ", ".join(f"{term} +{value:.2f}" for term, value in c.drivers) or "none"
        lines.append(
            f"  {c.rank:>4}  {c.customer_id:<12}{c.segment_name[:23]:<24}{c.probability:>6.2f}"
            f"{c.recency_days:>8.0f}{c.count_orders:>7.0f}{c.avg_order_value:>9.2f}  {drivers}"
        )
    lines.append(f"Model and evaluation: {result.model_path}")
    return lines


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
