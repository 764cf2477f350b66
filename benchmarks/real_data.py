"""End-to-end speed of `custseg run` on the real Marketing Insights data, against a no-op dbt.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.real_data            # two rounds
    .venv/bin/python -m benchmarks.real_data --rounds 3

Each round copies the dbt project to a scratch folder, runs `custseg run --json` on
../shared/data/marketing_insights in a fresh process, then one no-op dbt process (`dbt ls`) on
the same scratch project: the floor, what any dbt-driven flow on this machine pays at least.
It prints both, their ratio, the peak memory of the run's process and its time per stage (the
run's own ``stage_seconds``), then the spread over the rounds.

Target (issue 16): the run within 2x the floor measured in the same benchmark run.
"""

from __future__ import annotations

import argparse
import shutil

from benchmarks._workspace import REAL_DATA_DIR, custseg_run, dbt_noop_seconds, scratch_project


def run_round() -> dict:
    """One `custseg run` and one `dbt ls` on the same fresh scratch project."""
    project = scratch_project()
    try:
        completed, summary = custseg_run(REAL_DATA_DIR, project)
        floor = dbt_noop_seconds(project)
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return {
        "wall": completed.wall_seconds,
        "peak_gib": completed.peak_gib,
        "floor": floor,
        "stages": summary["stage_seconds"],
        "customers": summary["n_customers"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of run + dbt ls (default 2)")
    args = parser.parse_args()
    results = []
    for number in range(1, args.rounds + 1):
        result = run_round()
        results.append(result)
        stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result["stages"].items())
        print(
            f"round {number}: {result['customers']:,} customers: {result['wall']:.1f} s end to "
            f"end, floor (dbt ls) {result['floor']:.1f} s, "
            f"{result['wall'] / result['floor']:.2f}x the floor, peak {result['peak_gib']:.2f} GiB"
            f"\n    stages: {stages}",
            flush=True,
        )
    if len(results) >= 2:
        walls = [result["wall"] for result in results]
        floors = [result["floor"] for result in results]
        ratios = [result["wall"] / result["floor"] for result in results]
        print(
            f"over {len(results)} rounds: end to end {min(walls):.1f}-{max(walls):.1f} s, "
            f"floor {min(floors):.1f}-{max(floors):.1f} s, "
            f"ratio {min(ratios):.2f}-{max(ratios):.2f}x; "
            f"total {sum(walls):.1f} s against {sum(floors):.1f} s = "
            f"{sum(walls) / sum(floors):.2f}x"
        )


if __name__ == "__main__":
    main()
