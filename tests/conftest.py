"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, require_server_bin_dir, running_postgres
from tests.support import copy_project


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
