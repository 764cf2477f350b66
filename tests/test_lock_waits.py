"""On a real PostgreSQL server: lock waits are bounded, and a password in a URI is never shown.

A "dashboard" connection opens a transaction and reads a table, as a BI tool left open does: its
AccessShareLock blocks custseg's TRUNCATE of the raw tables and dbt's replacement of the mart.
Each run is a child process with a generous outer timeout, so a run that waits forever fails
the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from custseg.errors import masked
from custseg.sample import generate_sample_data
from custseg.warehouses.postgres_locks import pgoptions
from tests.postgres_server import PostgresServer
from tests.support import copy_project

CUSTSEG = str(Path(sys.executable).with_name("custseg"))
SCHEMA = "locks"
#: The lock timeout the runs get, and the longest a bounded run may take around it.
TIMEOUT_SECONDS = 2
BOUNDED_SECONDS = 90


@dataclass(frozen=True)
class Published:
    server: PostgresServer
    data_dir: Path
    project: Path


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUSTSEG_", "PG"))}
    return {**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}


def custseg_run(
    setup: Published, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["run", "--target", "postgres", "--project-dir", str(setup.project)]
    variables = {**setup.server.libpq_env(), "CUSTSEG_SCHEMA": SCHEMA, **(env or {})}
    return subprocess.run(
        [CUSTSEG, *args, "--data-dir", str(setup.data_dir), *extra],
        capture_output=True,
        text=True,
        env=child_env(variables),
        timeout=BOUNDED_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def published(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Published:
    base = tmp_path_factory.mktemp("lock_waits")
    generate_sample_data(base / "data", n_customers=300, seed=3)
    setup = Published(postgres_server, base / "data", copy_project(base / "project"))
    first = custseg_run(setup)
    assert first.returncode == 0, first.stderr
    return setup


@contextlib.contextmanager
def dashboard(server: PostgresServer, table: str) -> Iterator[int]:
    """A session that read ``table`` in a transaction it leaves open; yields its pid."""
    con = psycopg2.connect(**server.connect_args(application_name="dashboard"))
    try:
        with con.cursor() as cur:
            cur.execute(f"select count(*) from {table}")
            cur.execute("select pg_backend_pid()")
            (pid,) = cur.fetchone()
        yield int(pid)
    finally:
        con.rollback()
        con.close()


@pytest.mark.parametrize(
    ("table", "what"),
    [
        # custseg's own connection: the TRUNCATE of the raw table waits.
        ("raw.online_sales", "raw"),
        # dbt's connection: replacing the mart waits (the timeout reaches it through PGOPTIONS).
        (f"{SCHEMA}.fct_customer_segments", "mart"),
    ],
)
def test_a_dashboards_open_transaction_stops_the_run_in_bounded_time(
    published: Published, table: str, what: str
) -> None:
    with dashboard(published.server, table) as pid:
        started = time.monotonic()
        # The variable, not the flag: custseg without a timeout would wait forever here, and
        # the outer timeout then fails the test.
        result = custseg_run(published, env={"CUSTSEG_LOCK_TIMEOUT": str(TIMEOUT_SECONDS)})
        seconds = time.monotonic() - started
    assert result.returncode == 6, result.stderr
    assert f"{table} is held by pid {pid} (application 'dashboard', user " in result.stderr
    assert f"Waited {TIMEOUT_SECONDS} s for a table lock in PostgreSQL" in result.stderr
    assert "end that transaction (commit or roll back" in result.stderr
    assert "--lock-timeout SECONDS (CUSTSEG_LOCK_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert seconds < BOUNDED_SECONDS
    if what == "mart":
        assert "The new segments were not published" in result.stderr
    # Once the dashboard lets go, the next run publishes.
    again = custseg_run(published, "--lock-timeout", "30")
    assert again.returncode == 0, again.stderr


def test_a_password_in_a_pgdatabase_uri_is_in_no_output_nor_file(published: Published) -> None:
    """libpq reads PGDATABASE as a plain name, so a URI there is refused, masked, before any
    connection (the server would echo the unknown database's name, password included)."""
    server = published.server
    secret = server.password
    uri = f"postgresql://{server.user}:{secret}@{server.host}:{server.port}/{server.database}"
    shown = custseg_run(published, env={"PGDATABASE": uri})
    as_json = custseg_run(published, "--json", env={"PGDATABASE": uri})
    for result in (shown, as_json):
        assert secret not in result.stdout + result.stderr
        assert result.returncode == 2, result.stderr
        assert "is a connection string; libpq and dbt read PGDATABASE as a plain" in (result.stderr)
        assert f"postgresql://{server.user}:***@{server.host}" in result.stderr
    leaks = [
        path
        for path in published.project.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert not leaks, f"the password is written in {leaks}"


# ------------------------------------------------------------------ without a server


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://ana:s3cr%40t@db:5432/shop", "postgresql://ana:***@db:5432/shop"),
        ("postgres://ana:pw@db/shop?sslmode=require", "postgres://ana:***@db/shop?sslmode=require"),
        ("host=db password=pw dbname=shop", "host=db password=*** dbname=shop"),
        ("host=db password='p w' dbname=shop", "host=db password=*** dbname=shop"),
        ("ana@db:5432/shop, schema custseg", "ana@db:5432/shop, schema custseg"),
    ],
)
def test_masked_hides_the_password_of_uris_and_key_value_strings(text: str, shown: str) -> None:
    assert masked(text) == shown


def test_dbt_gets_the_lock_timeout_after_the_users_own_pgoptions() -> None:
    assert pgoptions(2, {}) == "-c lock_timeout=2000"
    assert pgoptions(0.0001, {}) == "-c lock_timeout=1"  # never 0, which means no bound
    assert pgoptions(60, {"PGOPTIONS": "-c search_path=x"}) == (
        "-c search_path=x -c lock_timeout=60000"
    )
