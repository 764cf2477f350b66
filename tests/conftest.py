"""Shared fixtures: throwaway projects, real PostgreSQL and Redis servers, and runs shared per
session."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from custseg.features import build_features
from custseg.pipeline import RunResult, run_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import resolve_settings
from custseg.warehouses import open_warehouse
from tests.postgres_server import PostgresServer, require_server_bin_dir, running_postgres
from tests.redis_server import RedisServer, require_redis_server, running_redis
from tests.support import (
    PUBLISHED_SAMPLE_DATASET,
    PlantedSample,
    PublishedSample,
    copy_project,
    real_data_dir,
)


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
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server for the session, stopped and deleted at the end.

    Skips without ``redis-server`` (fails in CI); see tests/redis_server.py. Tests share it:
    each uses its own stream and key prefix.
    """
    with running_redis(require_redis_server()) as server:
        yield server


@pytest.fixture(scope="session")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run on the real dataset on DuckDB, the reference the other engines are compared to."""
    root = copy_project(tmp_path_factory.mktemp("duckdb") / "project")
    return run_pipeline(resolve_settings(data_dir=real_data_dir(), project_dir=root))


@pytest.fixture(scope="session")
def planted_sample(tmp_path_factory: pytest.TempPathFactory) -> PlantedSample:
    """1,000 generated customers (seed 42), their planted archetypes, and their features built
    by the dbt models on DuckDB: the one way custseg counts orders and prices lines."""
    base = tmp_path_factory.mktemp("planted")
    data = base / "data"
    generate_sample_data(data, n_customers=1000, seed=42)
    settings = resolve_settings(data_dir=data, project_dir=copy_project(base / "project"))
    with open_warehouse(settings) as warehouse:
        warehouse.load_raw(data)
        features = build_features(settings, warehouse)
    with open(data / "planted_segments.csv", newline="", encoding="utf-8") as handle:
        planted = {row["customer_id"]: row["archetype"] for row in csv.DictReader(handle)}
    archetypes = [planted[customer_id] for customer_id in features.customer_ids]
    return PlantedSample(data_dir=data, features=features, archetypes=archetypes)


@pytest.fixture(scope="session")
def published_sample(tmp_path_factory: pytest.TempPathFactory) -> PublishedSample:
    """300 generated customers (seed 3) and a project after one default run on them on DuckDB.

    Read only: a test that goes on from this published state copies the project with
    :func:`tests.support.copy_project_state`, and copies the data before changing it.
    """
    base = tmp_path_factory.mktemp("published_sample")
    data = base / "data"
    generate_sample_data(data, n_customers=300, seed=3)
    root = copy_project(base / "project")
    settings = resolve_settings(data_dir=data, project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET)
    result = run_pipeline(settings)
    return PublishedSample(data_dir=data, root=root, result=result)
