"""Helpers shared by the tests: isolated project copies and the real dataset."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

if TYPE_CHECKING:
    from custseg.pipeline import RunResult

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "marketing_insights"
_IGNORED = shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb*", ".user.yml")
#: What a successful `custseg run` publishes, relative to the project root.
PUBLISHED_FILES = (
    "ml_pipeline/models/customer_segments.csv",
    "ml_pipeline/models/segment_model.json",
    "ml_pipeline/models/evaluation_metrics.json",
    "dbt_pipeline/seeds/customer_segments.csv",
    "dbt_pipeline/seeds/segment_definitions.csv",
    "dbt_pipeline/seeds/segment_model_parameters.csv",
)
#: RunResult fields (and --json keys) of the published files every engine must write alike.
PUBLISHED_PATH_KEYS = ("segments_path", "model_path", "metrics_path", "seed_path")
#: The environment a user's shell might carry must not redirect a test's runs.
CLEAN_ENV = {"CUSTSEG_DUCKDB_PATH": None, "CUSTSEG_TARGET": None}


def copy_project(destination: Path) -> Path:
    """Copy the dbt project into ``destination`` (a fresh project root) and return that root.

    Every run writes the seed, target/ and the warehouse inside the project, so tests work on a
    copy and never touch the repository.
    """
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO_ROOT / "dbt_pipeline", destination / "dbt_pipeline", ignore=_IGNORED)
    return destination


def real_data_dir() -> Path:
    """The real dataset; fails in CI (where ../shared must exist), skips elsewhere."""
    if (REAL_DATA_DIR / "Online_Sales.csv").is_file():
        return REAL_DATA_DIR
    message = (
        f"real dataset not found at {REAL_DATA_DIR}: put the shared/ folder beside the "
        "project to run the end-to-end tests on real data"
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def duckdb_rows(run: RunResult, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in the DuckDB warehouse of a run."""
    assert run.duckdb_path is not None
    with duckdb.connect(str(run.duckdb_path)) as con:
        return con.execute(sql).fetchall()
