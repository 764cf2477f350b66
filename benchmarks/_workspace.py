"""Shared by the benchmarks: throwaway projects, features for a data folder, and timed child
processes (`custseg run --json`, the no-op `dbt ls` floor) with their own peak memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from custseg.features import CustomerFeatures, build_features
from custseg.settings import resolve_settings
from custseg.warehouses import open_warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "marketing_insights"
BIN = Path(sys.executable).parent


def scratch_project() -> Path:
    """A temporary project root with a copy of dbt_pipeline/ (the repository stays untouched)."""
    root = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
    shutil.copytree(
        REPO_ROOT / "dbt_pipeline",
        root / "dbt_pipeline",
        ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", "published"),
    )
    return root


def features_for(data_dir: Path) -> CustomerFeatures:
    """Load ``data_dir`` and build ``customer_features`` with dbt on DuckDB; return them."""
    root = scratch_project()
    try:
        settings = resolve_settings(data_dir=data_dir, project_dir=root)
        with open_warehouse(settings) as warehouse:
            warehouse.load_raw(data_dir)
            return build_features(settings, warehouse)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: its output, wall time and its own peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_gib: float


def run_child(argv: list[str], cwd: Path | None = None) -> ChildRun:
    """Run ``argv`` to the end; time it and read the peak memory of that child alone.

    ``os.wait4`` gives the child's own rusage (RUSAGE_CHILDREN would be the largest of every
    child the benchmark ever waited for).
    """
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            returncode=child.returncode,
            stdout=out.read().decode(),
            stderr=err.read().decode(),
            wall_seconds=wall,
            peak_gib=usage.ru_maxrss / 1024**2,
        )


def dbt_noop_seconds(project_root: Path) -> float:
    """Seconds of one no-op dbt process (`dbt ls`) on the project's dbt_pipeline/: what any
    dbt-driven flow on this machine pays at least (start-up, project parse)."""
    listed = run_child(
        [str(BIN / "dbt"), "ls", "--quiet", "--select", "customer_features"],
        cwd=project_root / "dbt_pipeline",
    )
    if listed.returncode != 0:
        raise SystemExit(f"dbt ls failed:\n{listed.stdout[-3000:]}{listed.stderr[-3000:]}")
    return listed.wall_seconds


def custseg_run(data_dir: Path, project_root: Path) -> tuple[ChildRun, dict]:
    """Run `custseg run --json` on ``data_dir`` in a child process; return it and its summary."""
    completed = run_child(
        [
            str(BIN / "custseg"),
            "run",
            "--data-dir",
            str(data_dir),
            "--project-dir",
            str(project_root),
            "--json",
        ]
    )
    if completed.returncode != 0:
        raise SystemExit(f"custseg run failed:\n{completed.stderr[-3000:]}")
    return completed, json.loads(completed.stdout)
