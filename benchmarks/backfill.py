"""A 12-period monthly backfill against one `custseg run`, on the real data and generated data.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.backfill                   # real data, then 5M sales lines
    .venv/bin/python -m benchmarks.backfill --lines 500000    # generated data of one size only
    .venv/bin/python -m benchmarks.backfill --real-only

For each dataset it runs, in fresh processes on a scratch copy of the dbt project, `custseg run`
and then `custseg backfill` of the twelve month starts from 2019-02-01 to 2020-01-01 (scored with
the published model), twice, and prints both wall times of each and the ratio of the medians.

Targets (issue 14): the backfill under 2x one run on the real data, under 4x at 5M sales lines.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._workspace import REAL_DATA_DIR, scratch_project
from custseg.sample import generate_sample_data

BIN = Path(sys.executable).parent
LINES_PER_CUSTOMER = 50
BACKFILL = ["--from", "2019-02-01", "--to", "2020-01-01", "--every", "month"]


def timed(args: list[str]) -> float:
    """Wall seconds of one custseg command in a child process (fails loudly)."""
    started = time.perf_counter()
    completed = subprocess.run(
        [str(BIN / "custseg"), *args, "--quiet"], capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(f"custseg {args[0]} failed:\n{completed.stderr[-3000:]}")
    return time.perf_counter() - started


def measure(name: str, data_dir: Path, repeats: int = 2) -> None:
    runs, backfills = [], []
    for _ in range(repeats):
        project = scratch_project()
        try:
            runs.append(timed(["run", "--data-dir", str(data_dir), "--project-dir", str(project)]))
            backfills.append(timed(["backfill", *BACKFILL, "--project-dir", str(project)]))
        finally:
            shutil.rmtree(project, ignore_errors=True)
    ratio = statistics.median(backfills) / statistics.median(runs)
    print(
        f"{name}: custseg run {', '.join(f'{s:.1f}' for s in runs)} s; 12-month backfill "
        f"{', '.join(f'{s:.1f}' for s in backfills)} s; backfill / run = {ratio:.2f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="generated sales lines")
    parser.add_argument("--real-only", action="store_true", help="the real dataset only")
    args = parser.parse_args()
    if not args.lines:
        if (REAL_DATA_DIR / "Online_Sales.csv").is_file():
            measure("real data (1,468 customers, 52,924 lines)", REAL_DATA_DIR)
        else:
            print(f"real dataset not found at {REAL_DATA_DIR}: skipped")
    if args.real_only:
        return
    for lines in args.lines or [5_000_000]:
        customers = max(200, lines // LINES_PER_CUSTOMER)
        with tempfile.TemporaryDirectory(prefix="custseg-backfill-") as folder:
            generated = generate_sample_data(
                Path(folder),
                n_customers=customers,
                seed=1,
                file_format="parquet",
                lines_per_customer=lines / customers,
            )
            measure(
                f"generated ({customers:,} customers, {generated.n_sales_lines:,} lines)",
                Path(folder),
            )


if __name__ == "__main__":
    main()
