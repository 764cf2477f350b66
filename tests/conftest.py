"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custseg.config import resolve_run_config
from custseg.pipeline import RunResult, run_pipeline
from tests.postgres_server import PostgresServer, require_server_bin_dir, running_postgres
from tests.support import copy_project, real_data_dir


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    """A throwaway project root holding a copy of dbt_pipeline/."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session, stopped and deleted at the end.

    Skips without the server binaries (fails in CI); see tests/postgres_server.py.
    """
    with running_postgres(require_server_bin_dir()) as server:
        yield server


@pytest.fixture(scope="session")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run on the real dataset on DuckDB, the reference the other engines are compared to."""
    root = copy_project(tmp_path_factory.mktemp("duckdb") / "project")
    return run_pipeline(resolve_run_config(data_dir=real_data_dir(), project_dir=root))
