"""Speed and memory of choosing k (`custseg evaluate`, `custseg run --k auto`) on generated data.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.choose_k                        # 25,000 and 1,000,000 customers
    .venv/bin/python -m benchmarks.choose_k --customers 100000     # one size
    .venv/bin/python -m benchmarks.choose_k --fit-sample-size 50000

For each size it generates the sales data with the project's generator (`custseg.sample`, as
Parquet, a dozen lines per customer), builds `customer_features` with dbt on DuckDB as a run does
(neither is timed), then times :func:`custseg.model.fitting.choose_k` (what both commands call:
every k from 2 to 8 fitted on the run's fit sample, quality, bootstrap stability, names) in a
fresh process, and prints its wall and CPU seconds (the CPU time is the steadier figure on a
shared machine), that process's peak memory and the chosen k.

Targets (issue 16, 2-core machine): under 5 s at 25,000 customers and under 30 s at 1,000,000,
with the default settings (`fit_sample_size` 200,000).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._workspace import features_for
from custseg.sample import generate_sample_data

DEFAULT_SIZES = (25_000, 1_000_000)
LINES_PER_CUSTOMER = 12


def save_features(customers: int, folder: Path) -> Path:
    """Generate ``customers`` customers' sales, build their features; save matrix and rhythm."""
    data_dir = folder / "data"
    generate_sample_data(
        data_dir,
        n_customers=customers,
        seed=1,
        file_format="parquet",
        lines_per_customer=LINES_PER_CUSTOMER,
    )
    features = features_for(data_dir)
    path = folder / "features.npz"
    rhythm = features.rhythm
    np.savez(
        path,
        matrix=features.matrix,
        silence=np.array([]) if rhythm is None else rhythm.silence,
        usual_gap_days=np.nan if rhythm is None else rhythm.usual_gap_days,
    )
    return path


def time_choose_k(features_path: Path, fit_sample_size: int | None) -> dict:
    """Choose k on the saved features in this process; seconds, peak memory and the choice."""
    from custseg.model.fitting import choose_k
    from custseg.model.rhythm import Rhythm
    from custseg.settings import resolve_settings

    saved = np.load(features_path)
    rhythm = None
    if saved["silence"].size:
        rhythm = Rhythm(float(saved["usual_gap_days"]), saved["silence"])
    given = {} if fit_sample_size is None else {"fit_sample_size": fit_sample_size}
    settings = resolve_settings(**given)
    started, cpu_started = time.perf_counter(), time.process_time()
    selection = choose_k(saved["matrix"], settings, rhythm=rhythm)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "chosen_k": selection.chosen_k,
        "customers": selection.n_customers,
        "fit_sample_size": selection.fit_sample_size,
    }


def measure(features_path: Path, fit_sample_size: int | None) -> dict:
    """:func:`time_choose_k` in a child process (its peak memory is choosing k's alone)."""
    command = [sys.executable, "-m", "benchmarks.choose_k", "--features", str(features_path)]
    if fit_sample_size is not None:
        command += ["--fit-sample-size", str(fit_sample_size)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"choosing k failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, action="append", help="customers (repeatable)")
    parser.add_argument("--fit-sample-size", type=int, help="as `custseg run --fit-sample-size`")
    parser.add_argument("--features", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.features is not None:
        print(json.dumps(time_choose_k(args.features, args.fit_sample_size)))
        return
    for customers in tuple(args.customers or DEFAULT_SIZES):
        with tempfile.TemporaryDirectory(prefix="custseg-choose-k-") as folder:
            started = time.perf_counter()
            features_path = save_features(customers, Path(folder))
            preparation = time.perf_counter() - started
            result = measure(features_path, args.fit_sample_size)
        fitted = result["fit_sample_size"]
        print(
            f"{result['customers']:>9,} customers "
            f"(fitted on {'all' if fitted is None else f'a sample of {fitted:,}'}): "
            f"choosing k took {result['seconds']:6.1f} s ({result['cpu_seconds']:.1f} s of CPU), "
            f"peak {result['peak_gib']:.2f} GiB, "
            f"chosen k = {result['chosen_k']} "
            f"(data generated and features built in {preparation:.0f} s, not counted)",
            flush=True,
        )


if __name__ == "__main__":
    main()
