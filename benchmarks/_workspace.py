"""Shared by the benchmarks: build customer features for a data folder in a throwaway project."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from custseg.features import CustomerFeatures, build_features
from custseg.settings import resolve_settings
from custseg.warehouses import open_warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "marketing_insights"


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
