"""A run killed at any instant publishes all or nothing, on DuckDB and on PostgreSQL.

A chain of runs on one project, each killed (SIGKILL: no handler runs) at another point of
another stage: during loading, the dbt feature build, every part of publishing (seeds, the dbt
build of the mart and its tests, the staged outputs, the commit) and the last renames.
Each run publishes the data set that is not published at the time, so that every published file
of a new publication differs from the previous one. After each kill, ``custseg recover`` repairs
what was left, and then:

- every published file is the previous publication's, or every one is the new one's, and the
  new one's describe the run's own data set;
- the warehouse agrees with the files: the seed tables hold the seed files' rows, the mart and
  the SQL scores hold every customer of the segments CSV with its segment, the report was drawn
  from the published model (it embeds the model's hash);
- nothing is left behind: no journal, no kept or staged file, no ``__custseg_last_good`` table.

The next kill then lands in the run that follows the repaired one, so every repaired state is
also shown to be one a run can carry on from. The chain ends with a kill and a SIGTERM the
moment the journal says "publishing" (landing before the commit on any machine; SIGTERM is
handled like Ctrl-C: exit 130, everything put back at once) and one uninterrupted run.

Where a time-based kill lands depends on the machine; the points are spread over each stage's
duration measured in the first run of the chain, and any landing must keep the promise.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from custseg.model.model_file import load_model
from custseg.publish.publication import LAST_GOOD_SUFFIX
from custseg.sample import generate_sample_data
from tests.child_run import CUSTSEG, Run, subprocess_env
from tests.postgres_server import PostgresServer
from tests.support import PUBLISHED_FILES, copy_project

REPORT = "ml_pipeline/models/segment_report.html"
FILES = (*PUBLISHED_FILES, REPORT)
SEED_CSV = "dbt_pipeline/seeds/published/customer_segments.csv"
SEGMENTS_CSV = "ml_pipeline/models/customer_segments.csv"
DEFINITIONS_CSV = "dbt_pipeline/seeds/published/segment_definitions.csv"
PARAMETERS_CSV = "dbt_pipeline/seeds/published/segment_model_parameters.csv"
SIZES = (300, 320)  # customers of the two data sets the chain alternates between

# (stage, the progress line that starts it, where to kill as fractions of its duration)
#
# One point per state a kill can leave, since every point costs a run of its own (on PostgreSQL
# the feature build alone takes most of a run):
# - load 0.5: raw tables half replaced, no journal;
# - features 0.5: dbt killed while building the features, no journal. A kill in fitting
#   (formerly "fit" 0.0) left the same state (new raw tables and features, no journal, nothing
#   for recovery to find) and ran the same recovery path: dropped;
# - publish 0.1: the journal "preparing" (previous files and tables being kept) or the seeds
#   being replaced at the start of "publishing";
# - publish 0.5: "publishing", dbt part way through rebuilding the seeds, scores and mart (some
#   tables new, some not). It replaces the points 0.4 and 0.7, which landed in that same state
#   and ran the same roll-back;
# - publish 0.95: "publishing", every table rebuilt and dbt's tests running;
# - outputs 0.0 and 0.6: files being staged ("publishing"), and later the commit and the
#   renames ("committed": recovery completes instead of rolling back).
# The chain's end adds "publishing" before any table was rebuilt (the journal kill) and SIGTERM.
DUCKDB_KILL_POINTS = (
    ("load", "Loading raw files", (0.5,)),
    ("features", "Building staging models", (0.5,)),
    ("publish", "Publishing the seeds", (0.1, 0.5, 0.95)),
    ("outputs", "Writing the segments CSV", (0.0, 0.6)),
)
# On PostgreSQL: a kill while the server is building the features (the killed client's session
# must not keep locks the recovery needs), one in the dbt tests once every published table was
# rebuilt, one while the outputs are written. The former publish 0.2 landed in the dbt build as
# well and ran the same roll-back (in one transaction) as 0.8 and the journal kill: dropped.
POSTGRES_KILL_POINTS = (
    ("features", "Building staging models", (0.5,)),
    ("publish", "Publishing the seeds", (0.8,)),
    ("outputs", "Writing the segments CSV", (0.5,)),
)


@dataclass
class Engine:
    """How the chain reaches one warehouse: run options, environment, and reading a table."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    rows: Callable[[str], list[tuple[Any, ...]]]
    tables: Callable[[], list[str]]


@dataclass(frozen=True)
class Published:
    """The published files of a project, checked to agree with each other and the warehouse."""

    files: dict[str, bytes]
    n_customers: int


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]


def check_published(project: Path, engine: Engine) -> Published:
    """The published state, after checking that every part of it belongs to one publication."""
    leftovers = sorted(
        str(path.relative_to(project))
        for folder in ("dbt_pipeline/seeds/published", "ml_pipeline/models")
        for path in (project / folder).iterdir()
        if path.name.startswith(".")
    )
    assert not leftovers, leftovers
    assert not [name for name in engine.tables() if name.endswith(LAST_GOOD_SUFFIX)]

    files = {name: (project / name).read_bytes() for name in FILES}
    segments = sorted(tuple(row) for row in csv_rows(files[SEGMENTS_CSV]))
    assert files[SEED_CSV] == files[SEGMENTS_CSV]
    text = "cast(segment_id as varchar) as segment_id"
    if engine.name == "postgres":
        text = "cast(segment_id as text) as segment_id"
    for table in ("customer_segments", "fct_customer_segments"):
        rows = engine.rows(f"select customer_id, {text}, segment_name from {{schema}}.{table}")
        assert sorted(tuple(str(v) for v in row) for row in rows) == segments, table
    scored = engine.rows("select customer_id from {schema}.customer_segment_scores")
    assert sorted(str(row[0]) for row in scored) == [row[0] for row in segments]
    definitions = engine.rows(f"select {text}, segment_name from {{schema}}.segment_definitions")
    assert sorted(tuple(str(v) for v in row) for row in definitions) == sorted(
        tuple(row[:2]) for row in csv_rows(files[DEFINITIONS_CSV])
    )
    parameters = engine.rows("select count(*) from {schema}.segment_model_parameters")
    assert parameters == [(len(csv_rows(files[PARAMETERS_CSV])),)]

    _, document = load_model(project / "ml_pipeline/models/segment_model.json")
    assert document["metadata"]["n_customers"] == len(segments)
    json.loads(files["ml_pipeline/models/evaluation_metrics.json"])
    embedded = re.search(rb'id="custseg-report-data">(.*?)</script>', files[REPORT], re.S)
    assert embedded, "the report holds its data"
    assert json.loads(embedded.group(1))["model_sha256"] == document["integrity"]["sha256"]
    return Published(files, len(segments))


def custseg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUSTSEG, *args], capture_output=True, text=True, env=subprocess_env(env), timeout=600
    )


def wait_for_journal(project: Path, state: str, run: Run, timeout: float = 300) -> None:
    """Return as soon as the run's publication journal is in ``state``."""
    journal = project / "ml_pipeline" / "models" / ".custseg-publication.json"
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(journal.read_bytes())["state"] == state:
                return
        if run.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the journal never said {state!r}:\n{''.join(run.lines)}")
        time.sleep(0.005)


def run_chain(
    project: Path, data: dict[int, Path], engine: Engine, points: tuple[Any, ...]
) -> list[str]:
    """Run the chain described in the module docstring; return what each recovery said."""
    args = ["--project-dir", str(project), *engine.args]
    first = custseg("run", "--data-dir", str(data[SIZES[0]]), *args, "--json", env=engine.env)
    assert first.returncode == 0, first.stderr
    seconds = json.loads(first.stdout)["stage_seconds"]
    state = check_published(project, engine)
    said = []
    kills = [(stage, line, f * seconds[stage]) for stage, line, fs in points for f in fs]
    for stage, line, delay in kills:
        size = SIZES[1] if state.n_customers == SIZES[0] else SIZES[0]
        run = Run(data[size], project, *engine.args, env=engine.env)
        run.wait_for(line, timeout=300)
        time.sleep(delay)
        run.kill()
        where = f"killed {delay:.2f} s into {stage}, after {run.lines[-1:]}"
        if len(said) % 2:
            # Any command repairs first and says what it found: the report draws no mixture.
            reported = custseg("report", *args, env=engine.env)
            assert reported.returncode == 0, (where, reported.stderr)
            said.append(reported.stderr)
        else:
            recovered = custseg("recover", *args, "--json", env=engine.env)
            assert recovered.returncode == 0, (where, recovered.stderr)
            said.append(str(json.loads(recovered.stdout)["repaired"]))
        after = check_published(project, engine)
        changed = {name for name in FILES if after.files[name] != state.files[name]}
        if changed:
            assert changed == set(FILES), (where, sorted(set(FILES) - changed))
            assert after.n_customers == size, where
        state = after

    # Killed the moment the journal says "publishing" (dbt is about to build): whatever the
    # machine's speed, this one lands before the commit.
    size = SIZES[1] if state.n_customers == SIZES[0] else SIZES[0]
    run = Run(data[size], project, *engine.args, env=engine.env)
    wait_for_journal(project, "publishing", run)
    run.kill()
    recovered = custseg("recover", *args, "--json", env=engine.env)
    said.append(str(json.loads(recovered.stdout)["repaired"]))
    assert "interrupted before it committed" in said[-1], said[-1]
    assert check_published(project, engine).files == state.files

    # SIGTERM at the same moment: put back at once by the run itself, nothing left to repair.
    run = Run(data[size], project, *engine.args, env=engine.env)
    wait_for_journal(project, "publishing", run)
    assert run.kill(signal.SIGTERM) == 130, "".join(run.lines)
    assert "Interrupted (SIGTERM)." in "".join(run.lines)
    recovered = custseg("recover", *args, "--json", env=engine.env)
    assert json.loads(recovered.stdout) == {"repaired": None}
    assert check_published(project, engine).files == state.files

    last = custseg("run", "--data-dir", str(data[size]), *args, env=engine.env)
    assert last.returncode == 0, last.stderr
    assert check_published(project, engine).n_customers == size
    return said


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    base = tmp_path_factory.mktemp("kill_data")
    folders = {}
    for seed, size in enumerate(SIZES, start=3):
        folders[size] = base / f"customers_{size}"
        generate_sample_data(folders[size], n_customers=size, seed=seed)
    return folders


def test_duckdb_publishes_all_or_nothing_wherever_a_run_is_killed(
    data: dict[int, Path], tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    warehouse = project / "dbt_pipeline" / "custseg.duckdb"

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(sql.format(schema="main")).fetchall()

    def tables() -> list[str]:
        return [name for (name,) in rows("select table_name from information_schema.tables")]

    said = run_chain(project, data, Engine("duckdb", (), {}, rows, tables), DUCKDB_KILL_POINTS)
    assert len(said) == sum(len(fractions) for _, _, fractions in DUCKDB_KILL_POINTS) + 1


@pytest.fixture
def postgres_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    import psycopg2

    schema = "custseg_kill_anywhere"

    def rows(sql: str) -> list[tuple[Any, ...]]:
        con = psycopg2.connect(**postgres_server.connect_args())
        try:
            con.autocommit = True  # no transaction stays open on what the next run replaces
            with con.cursor() as cur:
                cur.execute(sql.format(schema=schema))
                return cur.fetchall()
        finally:
            con.close()

    def tables() -> list[str]:
        found = rows(
            "select table_name from information_schema.tables where table_schema = '{schema}'"
        )
        return [name for (name,) in found]

    env = {**postgres_server.libpq_env(), "CUSTSEG_SCHEMA": schema}
    yield Engine("postgres", ("--target", "postgres"), env, rows, tables)


def test_postgres_publishes_all_or_nothing_wherever_a_run_is_killed(
    data: dict[int, Path], postgres_engine: Engine, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    said = run_chain(project, data, postgres_engine, POSTGRES_KILL_POINTS)
    assert len(said) == sum(len(fractions) for _, _, fractions in POSTGRES_KILL_POINTS) + 1
