"""Command line interface: parses options, calls the library, turns errors into messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from custseg import __version__
from custseg.errors import CustsegError

EXIT_CODES_HELP = """\b
Exit codes: 0 success; 1 unexpected error; 2 bad option or config; 3 bad or insufficient
input data; 4 model error; 5 publishing or dbt test failure (nothing was published);
6 another run holds the warehouse."""

GENERATE_SAMPLE_EXIT_CODES_HELP = """\b
Exit codes: 0 success; 1 unexpected error (e.g. the folder cannot be written); 2 bad option
(e.g. --customers 0)."""


PROJECT_DIR_OPTION = click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder holding dbt_pipeline/ and ml_pipeline/ (default: found from the current folder).",
)
RANDOM_STATE_OPTION = click.option(
    "--random-state",
    type=int,
    default=42,
    show_default=True,
    help="Seed for sampling (silhouette, bootstrap) and for k-means++ restarts.",
)
DUCKDB_PATH_OPTION = click.option(
    "--duckdb-path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="CUSTSEG_DUCKDB_PATH",
    default=None,
    help="DuckDB warehouse file (env CUSTSEG_DUCKDB_PATH; default dbt_pipeline/custseg.duckdb).",
)
TARGET_OPTION = click.option(
    "--target",
    type=click.Choice(["duckdb", "postgres", "spark"]),
    envvar="CUSTSEG_TARGET",
    default="duckdb",
    show_default=True,
    help="dbt target (profiles.yml) to run on; env CUSTSEG_TARGET. postgres reads PGHOST, "
    "PGPORT, PGUSER, PGPASSWORD, PGDATABASE.",
)

CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="custseg.toml mapping your files, columns and date formats to ours, with run settings "
    "(see custseg.example.toml); options given here override it.",
)


class KChoice(click.ParamType):
    """An integer number of segments, or 'auto' (returned as None)."""

    name = "K"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if value is None or (isinstance(value, str) and value.lower() == "auto"):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a whole number nor 'auto'", param, ctx)


def _fail(error: CustsegError) -> None:
    notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
    click.secho(f"Error: {error}{notes}", fg="red", err=True)
    sys.exit(error.exit_code)


def _given_options() -> set[str]:
    """Options given on the command line or by environment variable (these beat --config)."""
    ctx = click.get_current_context()
    defaulted = {ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None}
    return {name for name in ctx.params if ctx.get_parameter_source(name) not in defaulted}


@click.group(epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="custseg")
def cli() -> None:
    """Machine-learned, named, tested customer segments inside your dbt project.

    \b
    Example, on the sample data:
        custseg generate-sample --out build/sample_data
        custseg run --data-dir build/sample_data
    """


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with CustomersData, Online_Sales, Discount_Coupon, Tax_amount and "
    "Marketing_Spend, each .csv or .parquet (required unless --config sets data_dir).",
)
@PROJECT_DIR_OPTION
@DUCKDB_PATH_OPTION
@TARGET_OPTION
@click.option(
    "--as-of-date",
    default=None,
    metavar="YYYY-MM-DD",
    help="Date recency and activity are measured against (default: the day after the last "
    "transaction).",
)
@click.option(
    "--k",
    "n_segments",
    type=KChoice(),
    default="5",
    show_default=True,
    help="Number of segments (2-5), or 'auto' to choose it as `custseg evaluate` does.",
)
@RANDOM_STATE_OPTION
@click.option(
    "--min-segment-share",
    type=float,
    default=0.05,
    show_default=True,
    help="With --k auto: no segment may hold less than this share of customers.",
)
@click.option(
    "--max-centroid-shift",
    type=float,
    default=0.5,
    show_default=True,
    help="Largest centroid move (standard deviations) for which a retrain keeps the published "
    "segment ids; beyond it the run reports that segment definitions changed.",
)
@click.option(
    "--seed-max-customers",
    type=int,
    default=100_000,
    show_default=True,
    help="Above this many customers, segments are scored in SQL inside the warehouse instead "
    "of passing one row per customer through the customer_segments seed.",
)
@click.option(
    "--fit-sample-size",
    type=int,
    default=200_000,
    show_default=True,
    help="Above this many customers, K-means is fitted on a random sample of this size.",
)
@click.option(
    "--allow-unsupported-names",
    is_flag=True,
    help="Publish even when a segment's profile does not support its name (prints a warning).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON for scripts.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
def run(
    config_file: Path | None,
    data_dir: Path | None,
    project_dir: Path | None,
    duckdb_path: Path | None,
    target: str,
    as_of_date: str | None,
    n_segments: int | None,
    random_state: int,
    min_segment_share: float,
    max_centroid_shift: float,
    seed_max_customers: int,
    fit_sample_size: int,
    allow_unsupported_names: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Load the raw files, build features with dbt, cluster, publish and test the segments.

    \b
    Example:
        custseg run --data-dir ../shared/data/marketing_insights --as-of-date 2020-01-01
        custseg run --config custseg.toml   # your own files: see custseg.example.toml
    """
    from custseg.config import resolve_run_config
    from custseg.input_config import merge_settings
    from custseg.pipeline import result_as_dict, run_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)

    try:
        settings = merge_settings(
            config_file,
            click.get_current_context().params,
            _given_options(),
            data_dir_required=True,
        )
        config = resolve_run_config(
            **settings,
            project_dir=project_dir,
            min_segment_share=min_segment_share,
            max_centroid_shift=max_centroid_shift,
            allow_unsupported_names=allow_unsupported_names,
            seed_max_customers=seed_max_customers,
            fit_sample_size=fit_sample_size,
        )
        with progress:
            result = run_pipeline(config, progress=progress)
    except CustsegError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(result_as_dict(result), indent=2, sort_keys=True))
        return
    if quiet:
        return
    click.echo(f"\nSegments of {result.n_customers:,} customers as of {result.as_of_date}:")
    click.echo(f"  {'id':>2}  {'segment':<22}{'customers':>10}{'share':>8}{'revenue share':>15}")
    for segment in result.segments:
        click.echo(
            f"  {segment.segment_id:>2}  {segment.segment_name:<22}{segment.customers:>10,}"
            f"{segment.customer_share:>8.1%}{segment.revenue_share:>15.1%}"
        )
    if result.silhouette is not None:
        click.echo(f"Silhouette (sampled): {result.silhouette:.3f}")
    for warning in result.warnings:
        click.secho(f"Warning: {warning}", fg="yellow")
    for repair in result.repairs:
        click.echo(f"Input repaired or noted: {repair}")
    click.echo(f"Warehouse:        {result.warehouse}")
    click.echo(f"Published seed:   {result.seed_path}")
    click.echo(f"Segments CSV:     {result.segments_path}")
    click.echo(f"Model (JSON):     {result.model_path}")
    click.echo(f"Metrics:          {result.metrics_path}")
    if result.report_path:
        click.echo(f"Report:           {result.report_path}")


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Rebuild the features from these raw files first (default: data_dir of --config, else "
    "use the features already in the warehouse from the last run).",
)
@PROJECT_DIR_OPTION
@DUCKDB_PATH_OPTION
@TARGET_OPTION
@click.option(
    "--as-of-date", default=None, metavar="YYYY-MM-DD", help="As-of date (with --data-dir)."
)
@RANDOM_STATE_OPTION
@click.option(
    "--min-segment-share",
    type=float,
    default=0.05,
    show_default=True,
    help="Business constraint: no segment may hold less than this share of customers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
def evaluate(
    config_file: Path | None,
    data_dir: Path | None,
    project_dir: Path | None,
    duckdb_path: Path | None,
    target: str,
    as_of_date: str | None,
    random_state: int,
    min_segment_share: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Compare k = 2..5: silhouette, Davies-Bouldin, inertia, bootstrap stability, smallest segment.

    Writes ml_pipeline/models/k_selection.json and names the k that `custseg run --k auto` would
    choose. Nothing is published.

    \b
    Example:
        custseg evaluate --data-dir ../shared/data/marketing_insights
    """
    from custseg.config import resolve_run_config
    from custseg.input_config import merge_settings
    from custseg.pipeline import evaluate_pipeline
    from custseg.progress import StepProgress

    progress = StepProgress(enabled=not quiet and not as_json)

    try:
        settings = merge_settings(
            config_file,
            click.get_current_context().params,
            _given_options(),
            data_dir_required=False,
        )
        data_dir = settings.pop("data_dir")
        config = resolve_run_config(
            data_dir=data_dir or Path.cwd(),
            project_dir=project_dir,
            min_segment_share=min_segment_share,
            **settings,
        )
        with progress:
            selection, path = evaluate_pipeline(
                config, build=data_dir is not None, progress=progress
            )
    except CustsegError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(selection.to_dict(), indent=2, sort_keys=True))
        return
    if quiet:
        return
    click.echo(f"\nk selection on {selection.n_customers:,} customers:")
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
    click.echo(f"Written to {path}")


@cli.command(epilog=EXIT_CODES_HELP)
@PROJECT_DIR_OPTION
@DUCKDB_PATH_OPTION
@TARGET_OPTION
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="HTML file to write (default: ml_pipeline/models/segment_report.html).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print where the report went as JSON for scripts."
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
def report(
    project_dir: Path | None,
    duckdb_path: Path | None,
    target: str,
    out_path: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a self-contained HTML report of the published segments (opens offline).

    Sizes and revenue, profiles against the average customer, recency against revenue,
    gender, location and activity mix, the evidence for k and a model card, as one file with
    inline SVG charts: no network access needed to view or share it.

    \b
    Example:
        custseg report --out build/segment_report.html
    """
    from custseg.config import resolve_run_config
    from custseg.progress import StepProgress
    from custseg.report import write_report

    progress = StepProgress(enabled=not quiet and not as_json)
    try:
        config = resolve_run_config(
            data_dir=project_dir or Path.cwd(),
            project_dir=project_dir,
            duckdb_path=duckdb_path,
            target=target,
        )
        with progress:
            progress("Reading fct_customer_segments and the model, drawing the report")
            path = write_report(config, out_path)
    except CustsegError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps({"report_path": str(path)}, indent=2))
    elif not quiet:
        click.echo(f"Report: {path}")


@cli.command("generate-sample", epilog=GENERATE_SAMPLE_EXIT_CODES_HELP)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the five files and planted_segments.csv into.",
)
@click.option("--customers", type=int, default=2000, show_default=True, help="Number of customers.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format of the five files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON for scripts.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
def generate_sample(
    out_dir: Path, customers: int, seed: int, file_format: str, as_json: bool, quiet: bool
) -> None:
    """Write a deterministic sample dataset laid out like the Marketing Insights data.

    Customers follow planted behaviour archetypes; their true labels go to planted_segments.csv.

    \b
    Example:
        custseg generate-sample --out build/sample_data --customers 5000 --seed 7
    """
    from custseg.progress import StepProgress
    from custseg.sample_data import generate_sample_data

    try:
        with StepProgress(enabled=not quiet and not as_json) as progress:
            progress(f"Generating {customers:,} customers into {out_dir}")
            summary = generate_sample_data(
                out_dir, n_customers=customers, seed=seed, file_format=file_format
            )
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    if as_json:
        payload = {
            "out_dir": str(summary.out_dir),
            "file_format": summary.file_format,
            "seed": summary.seed,
            "n_customers": summary.n_customers,
            "n_orders": summary.n_orders,
            "n_sales_lines": summary.n_sales_lines,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if quiet:
        return
    click.echo(
        f"Wrote {summary.n_customers:,} customers, {summary.n_orders:,} orders and "
        f"{summary.n_sales_lines:,} sales lines ({file_format}) to {out_dir}"
    )


def main() -> None:
    """Entry point of the ``custseg`` console script."""
    cli()
