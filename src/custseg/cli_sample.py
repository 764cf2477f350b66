"""``custseg generate-sample``: the deterministic sample dataset, with its planted segments.

Registered on the ``custseg`` group by :mod:`custseg.cli`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from custseg.cli_options import GENERATE_SAMPLE_EXIT_CODES_HELP, QUIET_OPTION
from custseg.settings import SAMPLE_CUSTOMERS, SAMPLE_FORMAT, SAMPLE_SEED


@click.command("generate-sample", epilog=GENERATE_SAMPLE_EXIT_CODES_HELP)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the five files and planted_segments.csv into.",
)
@click.option(
    "--customers",
    type=int,
    default=SAMPLE_CUSTOMERS,
    show_default=True,
    help="Number of customers.",
)
@click.option("--seed", type=int, default=SAMPLE_SEED, show_default=True, help="Random seed.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet"]),
    default=SAMPLE_FORMAT,
    show_default=True,
    help="File format of the five files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON for scripts.")
@QUIET_OPTION
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
    from custseg.sample import generate_sample_data

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
