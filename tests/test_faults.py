"""Faults: concurrent runs, a database that goes away, damaged model files (killed runs:
tests/test_kill_anywhere.py).

Every test starts from a good published run and checks that the last good seeds, model,
metrics and mart survive, and that the next run succeeds.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.model.model_file import canonical_json, load_model
from custseg.sample import generate_sample_data
from custseg.settings.layout import PROJECT_LOCK_FILE
from tests.child_run import Run
from tests.postgres_server import (
    PostgresServer,
    require_server_bin_dir,
    run_server_command,
    running_postgres,
)
from tests.support import (
    CLEAN_ENV,
    PUBLISHED_FILES,
    PublishedSample,
    comparable,
    copy_project,
    resealed_model,
)

#: The files a run publishes with the mart, before it writes those of ml_pipeline/models.
SEEDS = tuple(name for name in PUBLISHED_FILES if name.startswith("dbt_pipeline/seeds/published/"))


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env={**CLEAN_ENV, **(env or {})})


def published(project: Path) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in PUBLISHED_FILES}


def comparable_files(project: Path) -> dict[str, Any]:
    """The published files as two runs of the same input must agree on them (but the run id)."""
    return {name: comparable(project / name) for name in PUBLISHED_FILES}


def mart_rows(project: Path) -> list[tuple[Any, ...]]:
    """The mart's rows, without ``updated_at`` (when dbt built it)."""
    with duckdb.connect(str(project / "dbt_pipeline" / "custseg.duckdb")) as con:
        return con.execute(
            "select * exclude (updated_at) from fct_customer_segments order by customer_id"
        ).fetchall()


def copy_state(project: Path, destination: Path) -> Path:
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns("*.lock", "logs"))
    return destination


@dataclass(frozen=True)
class Versions:
    """A project after a good run on data A, and what a run on data B publishes from there."""

    old_data: Path
    new_data: Path
    old_project: Path
    old_files: dict[str, bytes]
    old_mart: list[tuple[Any, ...]]
    new_files: dict[str, bytes]
    # The project after that run: its files as another run of data B must agree on them.
    new_project: Path
    new_mart: list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def versions(
    published_sample: PublishedSample, tmp_path_factory: pytest.TempPathFactory
) -> Versions:
    base = tmp_path_factory.mktemp("faults")
    # Data A and the project after its run are the session's published sample (conftest.py).
    old_data, new_data = published_sample.data_dir, base / "new_data"
    generate_sample_data(new_data, n_customers=320, seed=4)
    old_project = copy_state(published_sample.root, base / "old")
    new_project = copy_state(old_project, base / "new")
    result = run_cli("run", "--data-dir", str(new_data), "--project-dir", str(new_project))
    assert result.exit_code == 0, result.output
    new_files = published(new_project)
    old_files = published(old_project)
    assert all(new_files[name] != old_files[name] for name in PUBLISHED_FILES)
    return Versions(
        old_data,
        new_data,
        old_project,
        old_files,
        mart_rows(old_project),
        new_files,
        new_project,
        mart_rows(new_project),
    )


# ------------------------------------------------------------------------ killed mid-publish


# ---------------------------------------------------------------------------- two runs at once


@pytest.fixture
def running(versions: Versions, tmp_path: Path) -> Iterator[tuple[Run, Path]]:
    """A run that holds the warehouse and project locks, paused (SIGSTOP) so that it holds
    them until the test resumes it, however fast this machine runs it."""
    project = copy_state(versions.old_project, tmp_path / "project")
    run = Run(versions.new_data, project)
    locks = (
        project / "dbt_pipeline" / "custseg.duckdb.lock",
        project / "dbt_pipeline" / "target" / PROJECT_LOCK_FILE,
    )
    holder = f"pid {run.process.pid}"
    deadline = time.monotonic() + 60  # only against a hung test
    while not all(lock.exists() and holder in lock.read_text() for lock in locks):
        assert run.process.poll() is None and time.monotonic() < deadline, "".join(run.lines)
        time.sleep(0.01)
    run.pause()
    try:
        yield run, project
    finally:
        run.resume()
        if run.process.poll() is None:
            run.wait()


def test_a_second_run_on_the_same_duckdb_file_stops_and_names_the_holder(
    running: tuple[Run, Path], versions: Versions, tmp_path: Path
) -> None:
    run, project = running
    holder = f"pid {run.process.pid}"
    database = project / "dbt_pipeline" / "custseg.duckdb"

    # The same project and file.
    same = run_cli("run", "--data-dir", str(versions.old_data), "--project-dir", str(project))
    # Another project, the same DuckDB file.
    other_project = copy_project(tmp_path / "other")
    same_file = run_cli(
        "run",
        "--data-dir",
        str(versions.old_data),
        "--project-dir",
        str(other_project),
        "--duckdb-path",
        str(database),
    )
    # The same project, another DuckDB file: the runs would overwrite each other's seeds.
    same_project = run_cli(
        "run",
        "--data-dir",
        str(versions.old_data),
        "--project-dir",
        str(project),
        "--duckdb-path",
        str(tmp_path / "elsewhere.duckdb"),
    )
    for result, what in ((same, "warehouse"), (same_file, "warehouse"), (same_project, "project")):
        assert result.exit_code == 6, result.output
        assert f"another custseg run holds this {what} ({holder} on " in result.output
    assert not (tmp_path / "elsewhere.duckdb").exists()

    # The first run was not disturbed.
    run.resume()
    assert run.wait() == 0, "".join(run.lines)
    # What any run of data B publishes, but its own run id.
    assert comparable_files(project) == comparable_files(versions.new_project)
    assert mart_rows(project) == versions.new_mart


# ------------------------------------------------------------------ damaged or foreign models


def reseal(document: dict[str, Any]) -> bytes:
    """The document with a correct integrity hash, as another custseg would have written it."""
    return canonical_json(resealed_model(document)).encode("utf-8")


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def other_version(data: bytes) -> bytes:
    return reseal({**json.loads(data), "custseg_version": "9.9.0"})


def tampered(data: bytes) -> bytes:
    document = json.loads(data)
    document["model"]["params"]["random_state"] = 7
    return canonical_json(document).encode("utf-8")


@pytest.mark.parametrize(
    ("damage", "reason", "then_run"),
    [
        (truncated, "is not valid JSON", True),
        (other_version, "was written by custseg 9.9.0", True),
        # The run's side of an edited model: test_segment_lifecycle.
        (tampered, "failed its integrity check", False),
    ],
)
def test_a_damaged_or_foreign_model_is_refused_never_half_loaded(
    damage: Any, reason: str, then_run: bool, versions: Versions, tmp_path: Path
) -> None:
    project = copy_state(versions.old_project, tmp_path / "project")
    model = project / "ml_pipeline/models/segment_model.json"
    report = project / "ml_pipeline/models/segment_report.html"
    model.write_bytes(damage(model.read_bytes()))
    old_report = report.read_bytes()

    refused = run_cli("report", "--project-dir", str(project))
    assert refused.exit_code == 4, refused.output
    assert str(model) in refused.output and reason in refused.output
    assert report.read_bytes() == old_report
    if not then_run:
        return

    result = run_cli(
        "run", "--data-dir", str(versions.old_data), "--project-dir", str(project), "--json"
    )
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["warnings"]
    assert "the published model cannot be used to keep segment ids" in warning
    assert reason in warning
    load_model(model)  # replaced by a good one
    assert run_cli("report", "--project-dir", str(project)).exit_code == 0


# ------------------------------------------------------------------ the database goes away


@dataclass(frozen=True)
class Server:
    server: PostgresServer
    bin_dir: Path

    def pg_ctl(self, action: str) -> None:
        """Stop the server, or start it again on the same port, as its OS user."""
        data, log = self.server.base_dir / "data", self.server.base_dir / "server.log"
        argv = [str(self.bin_dir / "pg_ctl"), action, "--wait", "--pgdata", str(data)]
        if action == "stop":
            argv += ["--mode", "fast"]
        else:
            argv += [
                "--log",
                str(log),
                "--options",
                f"-c listen_addresses=127.0.0.1 -p {self.server.port} -k {self.server.base_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            ]
        run_server_command(argv, f"pg_ctl {action}", log)

    def mart(self) -> list[tuple[Any, ...]]:
        import psycopg2

        con = psycopg2.connect(
            host=self.server.host,
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            dbname=self.server.database,
        )
        try:
            with con.cursor() as cur:
                cur.execute(
                    "select customer_id, segment_id, segment_name, lifetime_revenue "
                    "from custseg.fct_customer_segments order by customer_id"
                )
                return cur.fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def dedicated_server() -> Iterator[Server]:
    """A server of its own: this module stops it, which the session's server must not suffer."""
    bin_dir = require_server_bin_dir()
    with running_postgres(bin_dir) as server:
        yield Server(server, bin_dir)


def stop_after_load(server: Server) -> Any:
    from custseg.warehouses.postgres_warehouse import PostgresWarehouse

    load_raw = PostgresWarehouse.load_raw

    def load_then_stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        loaded = load_raw(self, *args, **kwargs)
        server.pg_ctl("stop")
        return loaded

    return ("custseg.warehouses.postgres_warehouse.PostgresWarehouse.load_raw", load_then_stop)


def stop_while_publishing(server: Server) -> Any:
    """Stop the server once the last good tables are kept, as dbt starts to publish."""
    import custseg.run_publish

    run_dbt = custseg.run_publish.run_dbt
    calls = []

    def stop_then_build(*args: Any, **options: Any) -> Any:
        if not calls:  # the publishing build; later calls are the rollback's
            server.pg_ctl("stop")
        calls.append(args)
        return run_dbt(*args, **options)

    return ("custseg.run_publish.run_dbt", stop_then_build)


def test_a_postgres_server_stopped_mid_run_fails_clearly_and_publishes_nothing(
    dedicated_server: Server, versions: Versions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dedicated_server
    env = {**server.server.libpq_env(), "CUSTSEG_SCHEMA": "custseg"}
    project = copy_project(tmp_path / "project")
    args = ["run", "--target", "postgres", "--project-dir", str(project), "--data-dir"]
    first = run_cli(*args, str(versions.old_data), env=env)
    assert first.exit_code == 0, first.output
    old_files, old_mart = published(project), server.mart()

    # Stopped between loading and dbt's feature build, then as dbt starts publishing.
    for stop in (stop_after_load, stop_while_publishing):
        with monkeypatch.context() as patch:
            patch.setattr(*stop(server))
            broken = run_cli(*args, str(versions.new_data), env=env)
        assert broken.exit_code == 5, broken.output
        assert f'connection to server at "127.0.0.1", port {server.server.port} failed' in (
            broken.output
        ), stop.__name__
        assert server.server.password not in broken.output
        assert published(project) == old_files, stop.__name__
        server.pg_ctl("start")
        assert server.mart() == old_mart, stop.__name__

    again = run_cli(*args, str(versions.new_data), env=env)
    assert again.exit_code == 0, again.output
    assert (
        published(project)["dbt_pipeline/seeds/published/customer_segments.csv"]
        == (versions.new_files["dbt_pipeline/seeds/published/customer_segments.csv"])
    )
    assert len(server.mart()) == len(versions.new_mart)
