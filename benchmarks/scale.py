"""End-to-end speed and memory of `custseg run` on generated data, with raw files as Parquet.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.scale                  # about 50k, 5M and 50M sales lines
    .venv/bin/python -m benchmarks.scale --lines 5000000  # one size

For each size it generates the data (not timed), runs `custseg run --json` in a fresh process on
a scratch copy of the dbt project and DuckDB file, and prints the wall time, the peak memory of
that process, the time of each stage, and the ratio to the floor measured in the same run: a bare
DuckDB aggregation of the same Parquet files to per-customer RFM features plus one no-op dbt
invocation (`dbt ls`), i.e. what any dbt-driven flow on this machine must pay at least.

Targets (issue 4, 2-core machine): 50M lines end to end under 60 s and under 3 GiB peak memory;
cost growing no faster than linearly from 5M to 50M lines.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks._workspace import custseg_run, dbt_noop_seconds, scratch_project
from custseg.sample import generate_sample_data

LINES_PER_CUSTOMER = 50
DEFAULT_SIZES = (50_000, 5_000_000, 50_000_000)


def floor_seconds(data_dir: Path, project_dir: Path) -> tuple[float, float]:
    """Seconds of a bare DuckDB RFM aggregation of the Parquet files, and of a no-op dbt call."""
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(
            f"""
            select CustomerID, max(Transaction_Date) as last_date,
                   count(distinct Transaction_ID) as orders,
                   sum(Quantity * Avg_Price + Delivery_Charges) as revenue
            from read_parquet('{data_dir / "Online_Sales.parquet"}')
            group by CustomerID
            """
        ).fetchall()
    aggregation = time.perf_counter() - started
    return aggregation, dbt_noop_seconds(project_dir)


def run_once(data_dir: Path) -> dict:
    """Run `custseg run --json` in a child process; return its summary, wall time and peak RSS."""
    project = scratch_project()
    try:
        completed, summary = custseg_run(data_dir, project)
        aggregation, dbt_noop = floor_seconds(data_dir, project)
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return {
        "wall": completed.wall_seconds,
        "peak_gib": completed.peak_gib,
        "stages": summary["stage_seconds"],
        "customers": summary["n_customers"],
        "in_warehouse": summary["segments_scored_in_warehouse"],
        "floor": aggregation + dbt_noop,
        "floor_parts": (aggregation, dbt_noop),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="sales lines (repeatable)")
    args = parser.parse_args()
    sizes = tuple(args.lines) if args.lines else DEFAULT_SIZES
    results = []
    for lines in sizes:
        customers = max(200, lines // LINES_PER_CUSTOMER)
        with tempfile.TemporaryDirectory(prefix="custseg-scale-") as folder:
            data_dir = Path(folder)
            started = time.perf_counter()
            generated = generate_sample_data(
                data_dir,
                n_customers=customers,
                seed=1,
                file_format="parquet",
                lines_per_customer=lines / customers,
            )
            generation = time.perf_counter() - started
            result = run_once(data_dir)
        result["lines"] = generated.n_sales_lines
        results.append(result)
        stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result["stages"].items())
        aggregation, dbt_noop = result["floor_parts"]
        print(
            f"{generated.n_sales_lines:>11,} lines, {result['customers']:>9,} customers: "
            f"{result['wall']:6.1f} s end to end, peak {result['peak_gib']:.2f} GiB, "
            f"{result['wall'] / result['floor']:.1f}x the floor "
            f"({aggregation:.1f} s DuckDB aggregation + {dbt_noop:.1f} s no-op dbt); "
            f"scored in {'the warehouse' if result['in_warehouse'] else 'Python, via the seed'}"
            f" (data generated in {generation:.0f} s, not counted)\n    stages: {stages}",
            flush=True,
        )
    if len(results) >= 2:
        small, large = results[-2], results[-1]
        growth = (large["wall"] / small["wall"]) / (large["lines"] / small["lines"])
        print(
            f"cost growth from {small['lines']:,} to {large['lines']:,} lines: "
            f"{growth:.2f}x linear (1.0 = linear, below 1 = sub-linear)"
        )


if __name__ == "__main__":
    main()
