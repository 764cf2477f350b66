"""Command line interface: parses options, calls the library, turns errors into messages.

Every setting option is defined once, from :data:`custseg.settings.OPTIONS` (:func:`setting`),
and defaults to "not given": the library merges it with the environment, the ``--config`` file
and the defaults (:func:`custseg.config_file.settings_from`).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from custseg.cli_errors import ErrorOutput, errors_reported, exit_with
from custseg.cli_history import backfill, moves
from custseg.cli_monitoring import drift, refresh
from custseg.cli_options import (
    CONFIG_OPTION,
    EXIT_CODES_HELP,
    INIT_EXIT_CODES_HELP,
    JSON_OPTION,
    QUIET_OPTION,
    RUN_OPTIONS,
    WAREHOUSE_OPTIONS,
    options,
    setting,
    versions_message,
)
from custseg.cli_sample import generate_sample
from custseg.cli_serve import serve
from custseg.cli_stream import consume
from custseg.version import __version__


class CustsegGroup(click.Group):
    """What every command shares: ``--json`` keeps stdout JSON, errors included; Ctrl-C and
    SIGTERM (see :func:`main`) end a command with exit code 130 and a sentence.

    An interruption inside a publication has already put the previous publication back by the
    time it reaches here (:mod:`custseg.publish.publication`); its notes say so.
    """

    def main(self, args: Any = None, *more: Any, **options: Any) -> Any:
        # Known before any option is parsed, so that a usage error can be JSON too.
        ErrorOutput.wants_json = "--json" in (sys.argv[1:] if args is None else list(args))
        return super().main(args, *more, **options)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if ErrorOutput.wants_json:
                payload = {"error": error.format_message(), "exit_code": error.exit_code}
                click.echo(json.dumps(payload, indent=2))
            raise
        except KeyboardInterrupt as interruption:
            # A publication adds what it put back; before one started nothing had changed.
            notes = list(getattr(interruption, "__notes__", ())) or ["Nothing was published."]
            by = f" ({interruption})" if str(interruption) else ""
            exit_with("\n".join(notes), INTERRUPTED_EXIT_CODE, prefix=f"Interrupted{by}.\n")


INTERRUPTED_EXIT_CODE = 130


@click.group(cls=CustsegGroup, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="custseg", message=versions_message())
def cli() -> None:
    """Machine-learned, named, tested customer segments inside your dbt project.

    \b
    Example, on the sample data:
        custseg generate-sample --out build/sample_data
        custseg run --data-dir build/sample_data
    """


@cli.command(epilog=EXIT_CODES_HELP)
@options(*RUN_OPTIONS, JSON_OPTION, QUIET_OPTION)
def run(config_file: Path | None, as_json: bool, quiet: bool, **given: Any) -> None:
    """Load the raw files, build features with dbt, cluster, publish and test the segments.

    \b
    Example:
        custseg run --data-dir ../shared/data/marketing_insights --as-of-date 2020-01-01
        custseg run --config custseg.toml   # your own files: see custseg.example.toml
    """
    from custseg.config_file import settings_from
    from custseg.pipeline import run_pipeline
    from custseg.progress import StepProgress
    from custseg.run_result import result_as_dict, segment_guide

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, inputs = settings_from(config_file, given, require_data_dir=True)
        with progress:
            result = run_pipeline(settings, inputs, progress=progress)
    if as_json:
        click.echo(json.dumps(result_as_dict(result), indent=2, sort_keys=True))
        return
    if quiet:
        return
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(f"\nSegments of {result.n_customers:,} customers as of {result.as_of_date}:")
    click.echo(f"  {'id':>2}  {'segment':<22}{'customers':>10}{'share':>8}{'revenue share':>15}")
    for segment in result.segments:
        click.echo(
            f"  {segment.segment_id:>2}  {segment.segment_name:<22}{segment.customers:>10,}"
            f"{segment.customer_share:>8.1%}{segment.revenue_share:>15.1%}"
        )
    for line in segment_guide(result.segments):
        click.echo(line)
    if result.silhouette is not None:
        click.echo(f"Silhouette (sampled): {result.silhouette:.3f}")
    for warning in result.warnings:
        click.secho(f"Warning: {warning}", fg="yellow")
    for repair in result.repairs:
        click.echo(f"Input repaired or noted: {repair}")
    click.echo(f"Dataset, run:     {result.dataset}, {result.run_id}")
    click.echo(f"Warehouse:        {result.warehouse}")
    click.echo(f"Published seed:   {result.seed_path}")
    click.echo(f"Segments CSV:     {result.segments_path}")
    click.echo(f"Model (JSON):     {result.model_path}")
    click.echo(f"Metrics:          {result.metrics_path}")
    if result.report_path:
        click.echo(f"Report:           {result.report_path}")


@cli.command(epilog=EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    setting(
        "data_dir",
        "Rebuild the features from these raw files first (default: data_dir of --config, else "
        "use the features already in the warehouse from the last run).",
    ),
    setting(
        "dataset",
        "Name of the data evaluated (default: derived from --data-dir as `custseg run` does; "
        "without --data-dir, the published model's dataset).",
    ),
    *WAREHOUSE_OPTIONS,
    setting("as_of_date", "As-of date of the features (with --data-dir)."),
    setting("random_state"),
    setting(
        "min_segment_share",
        "Business constraint: no segment may hold less than this share of customers.",
    ),
    setting(
        "fit_sample_size",
        "Above this many customers, every k is fitted on a random sample of this size (the "
        "sample `custseg run` fits on with the same value and --random-state).",
    ),
    setting("strict_amounts"),
    JSON_OPTION,
    QUIET_OPTION,
)
def evaluate(config_file: Path | None, as_json: bool, quiet: bool, **given: Any) -> None:
    """Compare k = 2..8: silhouette, Davies-Bouldin, inertia, bootstrap stability, smallest segment.

    Writes ml_pipeline/models/k_selection.json and names the k that `custseg run --k auto` would
    choose. Nothing is published.

    \b
    Example:
        custseg evaluate --data-dir ../shared/data/marketing_insights
    """
    from custseg.config_file import settings_from
    from custseg.pipeline import evaluate_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, inputs = settings_from(config_file, given)
        with progress:
            selection, path, document = evaluate_pipeline(settings, inputs, progress=progress)
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    if quiet:
        return
    fitted_on = (
        ""
        if selection.fit_sample_size is None
        else f" (every k fitted on a sample of {selection.fit_sample_size:,})"
    )
    click.echo(f"\nk selection on {selection.n_customers:,} customers{fitted_on}:")
    click.echo(
        f"  {'k':>2}{'silhouette':>12}{'Davies-B.':>11}{'inertia':>11}{'ARI mean':>10}"
        f"{'ARI worst':>11}{'smallest':>10}  names supported"
    )
    for e in selection.evaluations:
        silhouette = f"{e.silhouette:.3f}" if e.silhouette is not None else "n/a"
        davies = f"{e.davies_bouldin:.3f}" if e.davies_bouldin is not None else "n/a"
        names = "yes" if not e.unsupported_names else "no: " + ", ".join(e.unsupported_names)
        click.echo(
            f"  {e.k:>2}{silhouette:>12}{davies:>11}{e.inertia:>11.1f}"
            f"{e.stability_ari_mean:>10.3f}{e.stability_ari_worst:>11.3f}"
            f"{e.smallest_segment_share:>10.1%}  {names}"
        )
    chosen = selection.chosen_k if selection.chosen_k is not None else "none"
    click.echo(f"Chosen k: {chosen} ({selection.reason})")
    click.echo(f"Dataset {document['dataset']}, run {document['run_id']}")
    click.echo(f"Written to {path}")


@cli.command(epilog=EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    *WAREHOUSE_OPTIONS,
    setting("currency"),
    setting("drift_psi_alarm"),
    setting("drift_share_shift_alarm"),
    setting("drift_kept_share_min"),
    click.option(
        "--out",
        "out_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="HTML file to write (default: ml_pipeline/models/segment_report.html).",
    ),
    click.option(
        "--json", "as_json", is_flag=True, help="Print where the report went as JSON for scripts."
    ),
    QUIET_OPTION,
)
def report(
    config_file: Path | None, out_path: Path | None, as_json: bool, quiet: bool, **given: Any
) -> None:
    """Write a self-contained HTML report of the published segments (opens offline).

    Sizes, revenue and the recommended action per segment, profiles against the average
    customer (blue better, orange worse), recency against revenue, the gender and location mix
    (when the data has them) and the activity mix; from the warehouse's history, segment shares
    over time, last period's moves as a heat map, the at-risk list's top rows and drift against
    its thresholds; the evidence for k and a model card, as one file with inline SVG charts: no
    network access needed to view or share it.

    \b
    Example:
        custseg report --out build/segment_report.html --currency EUR
    """
    from custseg.config_file import settings_from
    from custseg.pipeline import report_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)
    with errors_reported():
        settings, _ = settings_from(config_file, given)
        with progress:
            progress("Reading fct_customer_segments, the history and the model, drawing the report")
            path = report_pipeline(settings, out_path, progress=progress)
    if as_json:
        click.echo(json.dumps({"report_path": str(path)}, indent=2))
    elif not quiet:
        click.echo(f"Report: {path}")


@cli.command(epilog=EXIT_CODES_HELP)
@options(CONFIG_OPTION, *WAREHOUSE_OPTIONS, JSON_OPTION, QUIET_OPTION)
def recover(config_file: Path | None, as_json: bool, quiet: bool, **given: Any) -> None:
    """Repair a publication that a killed run left half done, and say what was done.

    A run killed (kill -9, power cut, full disk) while publishing leaves a journal; this rolls
    the publication back or completes it, so every published file and table is the previous
    one or the new one. Every other command does this first; use this to repair at once.

    \b
    Example:
        custseg recover
    """
    from custseg.config_file import settings_from
    from custseg.pipeline import recover_pipeline

    with errors_reported():
        settings, _ = settings_from(config_file, given)
        found = recover_pipeline(settings)
    if as_json:
        click.echo(json.dumps({"repaired": found}, indent=2))
    elif not quiet:
        click.echo(found or "Nothing to repair: no publication was left half done.")


@cli.command(epilog=INIT_EXIT_CODES_HELP)
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@options(JSON_OPTION, QUIET_OPTION)
def init(directory: Path, as_json: bool, quiet: bool) -> None:
    """Lay out a new custseg project in DIRECTORY (default: the current folder).

    Writes dbt_pipeline/ (the dbt project), ml_pipeline/, a commented custseg.toml,
    custseg.example.toml and a .gitignore; refuses to overwrite anything.

    \b
    Example:
        custseg init shop && cd shop
        custseg generate-sample --out data
        custseg run --config custseg.toml
    """
    from custseg.scaffold import init_project

    with errors_reported():
        result = init_project(directory)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif not quiet:
        click.echo(
            f"Laid out a custseg project in {result.project_dir}. Next: put your exports in "
            "data/ (or `custseg generate-sample --out data`), then, in that folder:\n"
            "  custseg run --config custseg.toml"
        )


cli.add_command(generate_sample)
cli.add_command(backfill)
cli.add_command(drift)
cli.add_command(refresh)
cli.add_command(moves)
cli.add_command(serve)
cli.add_command(consume)


def main() -> None:
    """Entry point of the ``custseg`` console script.

    SIGTERM (a scheduler stopping the job, ``docker stop``, ``kill``) is handled like Ctrl-C:
    the command stops where it is, puts the previous publication back and exits 130.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    _collect_garbage_less_often()
    try:
        cli()
    except SystemExit as exiting:
        # Click ends every command, failed or not, with SystemExit.
        if exiting.code is None or isinstance(exiting.code, int):
            _end_process(exiting.code or 0)
        raise


#: Allocations (less deallocations) between two collections of Python's youngest generation.
YOUNG_GENERATION_THRESHOLD = 10_000


def _collect_garbage_less_often() -> None:
    """Collect the youngest generation every 10,000 net allocations instead of every 700.

    dbt's parse and builds allocate millions of objects, most of them kept (the manifest).
    At the default pace the older generations are collected a hundred times and the whole
    heap (the modules of dbt and scikit-learn, the manifest) several times: 1.3 s of a
    real-data run in the collector, 0.55 s at this pace, for a few megabytes more at most.
    """
    _, *older = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *older)


def _end_process(code: int) -> None:
    """End the process with ``code`` without Python's finalisation of its objects.

    Tearing down the modules of dbt and scikit-learn (hundreds of thousands of objects) costs
    0.6-0.9 s at the end of every command, for nothing: the process is ending. What the
    normal exit does that matters still happens first: the atexit handlers (dbt's log file,
    temporary folders, coverage) and the flush of stdout and stderr. Every warehouse
    connection, dbt's included, is closed by then. When another thread is still working (a
    server), or a stream cannot be flushed (a closed pipe), Python exits as usual.
    """
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    # CPython's own call at exit (handlers run once: it clears them); absent elsewhere.
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if others or run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)
