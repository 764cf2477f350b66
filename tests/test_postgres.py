"""`custseg run --target postgres` on a real PostgreSQL server, compared with a DuckDB run.

Each flow runs once per module (the real dataset, 5-10 s each); the tests then compare the
mart, the published files and the raw tables. The server comes from the session fixture
``postgres_server`` (tests/postgres_server.py): without the server binaries these tests skip,
in CI they fail. PG* variables are set only for the duration of each call that needs them.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from click.testing import CliRunner

from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation, DbtNodeResult, run_dbt
from custseg.errors import ConfigError, InputDataError, PublishError
from custseg.ingest.layout import raw_table
from custseg.pipeline import RunResult, run_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import PUBLISHED_SEEDS, resolve_settings
from custseg.warehouses import open_warehouse
from custseg.warehouses.postgres_warehouse import PostgresSettings, PostgresWarehouse
from tests.postgres_server import PostgresServer, environment
from tests.support import (
    INPUT_FILES,
    PUBLISHED_PATH_KEYS,
    REPO_ROOT,
    assert_multi_column_tests_count_each_column,
    comparable,
    copy_project,
    duckdb_rows,
    invoice_total_by_hand,
    real_data_dir,
    write_input_files,
)
from tests.test_order_log import order_log, rfm, write_order_log

SCHEMA = "custseg"
PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "CUSTSEG_SCHEMA")
PARSE_DATE_CHECK = "test.custseg.assert_parse_mdy_date_matches_expected_dates"


@dataclass(frozen=True)
class PostgresRun:
    server: PostgresServer
    project_root: Path
    summary: dict[str, Any]
    # Every node of a full `dbt build` run after the flow, on the same database.
    build_results: list[DbtNodeResult]
    # The history tables after the run, and after that `dbt build` by hand.
    history_after_run: PostgresHistory
    history_after_build: PostgresHistory


@dataclass(frozen=True)
class PostgresHistory:
    """segment_runs (as_of_date, run_id, model_version, count_customers) and
    segment_memberships (as_of_date, customer_id, segment_id, segment_name, run_id) of a schema."""

    runs: list[tuple[Any, ...]]
    memberships: list[tuple[Any, ...]]


def pg_history(server: PostgresServer, schema: str = SCHEMA) -> PostgresHistory:
    return PostgresHistory(
        pg_rows(
            server,
            "select as_of_date, run_id, model_version, count_customers "
            f"from {schema}.segment_runs order by as_of_date",
        ),
        pg_rows(
            server,
            "select as_of_date, customer_id, segment_id, segment_name, run_id "
            f"from {schema}.segment_memberships order by as_of_date, customer_id",
        ),
    )


def pg_connect_args(server: PostgresServer) -> dict[str, Any]:
    """Credentials passed explicitly, so the tests' own queries need no PG* variables."""
    return server.connect_args()


def pg_rows(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit mode; return its rows (none for a command)."""
    con = psycopg2.connect(**pg_connect_args(server))
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


@pytest.fixture(scope="module")
def postgres_run(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> PostgresRun:
    data_dir = real_data_dir()
    root = copy_project(tmp_path_factory.mktemp("postgres") / "project")
    env = postgres_server.libpq_env()
    # The CLI exactly as a user calls it; CliRunner sets the env for this call only.
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--data-dir",
            str(data_dir),
            "--project-dir",
            str(root),
            "--target",
            "postgres",
            "--json",
        ],
        env={**env, "CUSTSEG_SCHEMA": SCHEMA},
    )
    assert result.exit_code == 0, result.output
    history_after_run = pg_history(postgres_server)
    # Then every model, seed and test of the project, including those the flow does not need:
    # a build by hand (no CUSTSEG_HISTORY_SOURCE, CUSTSEG_RUN_RECORDS).
    invocation = DbtInvocation(
        project_dir=root / "dbt_pipeline",
        target="postgres",
        env={"CUSTSEG_TARGET": "postgres", "CUSTSEG_SCHEMA": SCHEMA},
    )
    with environment(env):
        build_results = run_dbt(invocation, "build")
    return PostgresRun(
        postgres_server,
        root,
        json.loads(result.stdout),
        build_results,
        history_after_run,
        pg_history(postgres_server),
    )


def test_the_run_names_the_server_and_leaks_no_credential(postgres_run: PostgresRun) -> None:
    server = postgres_run.server
    assert postgres_run.summary["warehouse"] == (
        f"PostgreSQL custseg_test@127.0.0.1:{server.port}/custseg_test, schema custseg"
    )
    assert server.password not in json.dumps(postgres_run.summary)
    # The fixtures set PG* for their calls only.
    assert os.environ.get("PGPASSWORD") != server.password
    assert os.environ.get("PGPORT") != str(server.port)


def test_every_customer_is_segmented_and_every_dbt_test_passes(postgres_run: PostgresRun) -> None:
    assert postgres_run.summary["n_customers"] == 1468
    assert pg_rows(
        postgres_run.server,
        f"select count(*), count(distinct customer_id) from {SCHEMA}.fct_customer_segments",
    ) == [(1468, 1468)]
    statuses = {node.unique_id: node.status for node in postgres_run.build_results}
    tests = [uid for uid in statuses if uid.startswith(("test.", "unit_test."))]
    assert len(tests) > 100
    assert {statuses[uid] for uid in tests} == {"pass"}
    others = {uid: status for uid, status in statuses.items() if not uid.startswith("exposure.")}
    assert {status for status in others.values()} == {"pass", "success"}


def test_the_run_adds_its_as_of_date_to_the_history_and_a_build_by_hand_nothing(
    postgres_run: PostgresRun,
) -> None:
    summary = postgres_run.summary
    model = json.loads(Path(summary["model_path"]).read_text(encoding="utf-8"))
    as_of_date = dt.date.fromisoformat(summary["as_of_date"])
    history = postgres_run.history_after_run
    assert history.runs == [
        (as_of_date, summary["run_id"], model["integrity"]["sha256"], summary["n_customers"])
    ]
    assert model["metadata"]["run_id"] == summary["run_id"]
    with open(summary["segments_path"], newline="", encoding="utf-8") as handle:
        published = [
            (as_of_date, row["customer_id"], int(row["segment_id"]), row["segment_name"])
            for row in csv.DictReader(handle)
        ]
    assert [row[:4] for row in history.memberships] == sorted(published)
    assert {row[4] for row in history.memberships} == {summary["run_id"]}
    # `dbt build` by hand built the history models and added nothing to them.
    built = {node.unique_id for node in postgres_run.build_results}
    assert {"model.custseg.segment_runs", "model.custseg.segment_memberships"} <= built
    assert postgres_run.history_after_build == history


def test_parse_mdy_date_check_runs_and_passes_on_postgres(postgres_run: PostgresRun) -> None:
    statuses = {node.unique_id: node.status for node in postgres_run.build_results}
    assert statuses[PARSE_DATE_CHECK] == "pass"


def test_revenue_equals_duckdb_and_the_invoice_formula(
    postgres_run: PostgresRun, duckdb_run: RunResult
) -> None:
    ((pg_revenue,),) = pg_rows(
        postgres_run.server, f"select sum(lifetime_revenue) from {SCHEMA}.fct_customer_segments"
    )
    ((duck_revenue,),) = duckdb_rows(
        duckdb_run, "select sum(lifetime_revenue) from fct_customer_segments"
    )
    expected, _ = invoice_total_by_hand(real_data_dir())
    assert isinstance(pg_revenue, float)
    assert pg_revenue == pytest.approx(duck_revenue, rel=1e-9)
    assert pg_revenue == pytest.approx(expected, rel=1e-9)


def test_every_customer_has_the_same_segment_as_on_duckdb(
    postgres_run: PostgresRun, duckdb_run: RunResult
) -> None:
    sql = "select customer_id, segment_id, segment_name from {} order by customer_id"
    pg = pg_rows(postgres_run.server, sql.format(f"{SCHEMA}.fct_customer_segments"))
    duck = duckdb_rows(duckdb_run, sql.format("fct_customer_segments"))
    assert len(pg) == 1468
    assert pg == duck


def test_published_files_are_byte_identical_to_duckdb(
    postgres_run: PostgresRun, duckdb_run: RunResult
) -> None:
    # Same text in, exact decimal money, the same features read back: the same model.
    for key in PUBLISHED_PATH_KEYS:
        pg_path = Path(postgres_run.summary[key])
        assert comparable(pg_path) == comparable(getattr(duckdb_run, key)), pg_path.name


def raw_snapshot(server: PostgresServer) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every raw table."""
    tables = ("customers_data", "online_sales", "discount_coupon", "tax_amount", "marketing_spend")
    return {
        table: pg_rows(
            server,
            f"select count(*), md5(string_agg(t::text, '|' order by t::text)) from raw.{table} t",
        )[0]
        for table in tables
    }


def test_multi_column_tests_count_each_broken_rule_on_postgres(postgres_run: PostgresRun) -> None:
    """not_null_columns and accepted_ranges read the model once (one aggregate row picked per
    column) and return the same rows as on DuckDB."""
    invocation = DbtInvocation(
        project_dir=postgres_run.project_root / "dbt_pipeline",
        target="postgres",
        env={"CUSTSEG_TARGET": "postgres", "CUSTSEG_SCHEMA": SCHEMA},
    )
    with environment(postgres_run.server.libpq_env()):
        assert_multi_column_tests_count_each_column(invocation)


def test_a_failed_raw_load_leaves_the_previous_raw_tables(
    postgres_run: PostgresRun, tmp_path: Path
) -> None:
    server = postgres_run.server
    config = resolve_settings(
        data_dir=real_data_dir(), project_dir=postgres_run.project_root, target="postgres"
    )
    before = raw_snapshot(server)
    assert before["online_sales"][0] == 52924
    with environment({**server.libpq_env(), "CUSTSEG_SCHEMA": SCHEMA}):
        warehouse = open_warehouse(config)
        # Reloading over tables that dbt's staging views depend on works and changes nothing.
        assert [t.row_count for t in warehouse.load_raw(real_data_dir())] == [
            1468,
            52924,
            204,
            20,
            365,
        ]
        assert raw_snapshot(server) == before

        # A file missing a column: refused before PostgreSQL is touched.
        missing = write_input_files(
            tmp_path / "missing", **{"Tax_amount.csv": "Product_Category\nApparel\n"}
        )
        with pytest.raises(InputDataError, match="missing column"):
            warehouse.load_raw(missing)
        assert raw_snapshot(server) == before

        # The last file is empty: the other four were already replaced inside the transaction.
        empty_last = write_input_files(
            tmp_path / "empty", **{"Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n"}
        )
        with pytest.raises(InputDataError, match="no data rows"):
            warehouse.load_raw(empty_last)
    assert raw_snapshot(server) == before
    assert pg_rows(
        server, f"select count(*) from {SCHEMA}.stg_marketing_insights__sales_lines"
    ) == [(52924,)]


def test_existing_tables_names_the_tables_and_neither_views_nor_missing_names(
    postgres_run: PostgresRun,
) -> None:
    config = resolve_settings(project_dir=postgres_run.project_root, target="postgres")
    with environment({**postgres_run.server.libpq_env(), "CUSTSEG_SCHEMA": SCHEMA}):
        warehouse = open_warehouse(config)
        names = ["fct_customer_segments", "stg_marketing_insights__sales_lines", "no_such_table"]
        assert warehouse.existing_tables(names) == {"fct_customer_segments"}
        assert warehouse.existing_tables(names) == {n for n in names if warehouse.table_exists(n)}
        assert warehouse.existing_tables([]) == set()


def test_a_raw_table_with_other_columns_is_recreated_unless_a_view_needs_it(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = "custseg_old_raw"
    pg_rows(postgres_server, f"drop database if exists {database}")
    pg_rows(postgres_server, f"create database {database}")
    server = dataclasses.replace(postgres_server, database=database)
    for statement in (
        "create schema raw",
        "create table raw.tax_amount (product_category text, gst_percent text)",
        "insert into raw.tax_amount values ('Apparel', '18')",
        "create view public.old_report as select gst_percent from raw.tax_amount",
    ):
        pg_rows(server, statement)
    data_dir = write_input_files(tmp_path / "data")
    root = copy_project(tmp_path / "project")
    config = resolve_settings(data_dir=data_dir, project_dir=root, target="postgres")
    with environment(server.libpq_env()):
        warehouse = open_warehouse(config)
        with pytest.raises(ConfigError, match="old_report"):
            warehouse.load_raw(data_dir)
        assert pg_rows(server, "select * from raw.tax_amount") == [("Apparel", "18")]
        pg_rows(server, "drop view public.old_report")
        assert [t.row_count for t in warehouse.load_raw(data_dir)] == [2, 2, 1, 2, 1]
    assert pg_rows(server, "select * from raw.tax_amount order by 1") == [
        ("Apparel", "0.18"),
        ("Office", "0.1"),
    ]


def test_a_role_that_may_not_create_the_raw_schema_gets_a_config_error(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database, role = "custseg_no_create", "custseg_reader"
    pg_rows(postgres_server, f"drop database if exists {database}")
    pg_rows(postgres_server, f"drop role if exists {role}")
    pg_rows(postgres_server, f"create role {role} login password 'reader-pw-7'")
    pg_rows(postgres_server, f"create database {database}")
    pg_rows(postgres_server, f"revoke create on database {database} from public")
    reader = dataclasses.replace(
        postgres_server, database=database, user=role, password="reader-pw-7"
    )
    data_dir = write_input_files(tmp_path / "data")
    config = resolve_settings(
        data_dir=data_dir, project_dir=copy_project(tmp_path / "project"), target="postgres"
    )
    with environment(reader.libpq_env()), pytest.raises(ConfigError) as error:
        open_warehouse(config).load_raw(data_dir)
    assert "refused to replace the raw tables (permission denied" in str(error.value)
    assert "reader-pw-7" not in str(error.value)


def test_missing_pghost_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in PG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGUSER", "analyst")
    monkeypatch.setenv("PGDATABASE", "analytics")
    root = copy_project(tmp_path / "project")
    data_dir = write_input_files(tmp_path / "data")
    config = resolve_settings(data_dir=data_dir, project_dir=root, target="postgres")
    with pytest.raises(ConfigError, match="needs PGHOST set"):
        run_pipeline(config)

    result = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(data_dir), "--project-dir", str(root), "--target", "postgres"],
    )
    assert result.exit_code == 2
    assert "PGHOST" in result.output


def test_settings_name_every_missing_variable_and_check_the_port() -> None:
    with pytest.raises(ConfigError, match="PGHOST, PGUSER, PGDATABASE"):
        PostgresSettings.from_environ({})
    with pytest.raises(ConfigError, match="PGPORT"):
        PostgresSettings.from_environ(
            {"PGHOST": "h", "PGUSER": "u", "PGDATABASE": "d", "PGPORT": "54x"}
        )
    settings = PostgresSettings.from_environ(
        {"PGHOST": "db", "PGUSER": "u", "PGDATABASE": "d", "PGPASSWORD": "secret"}
    )
    assert (settings.port, settings.schema) == (5432, "custseg")
    assert "secret" not in repr(settings)


def test_connection_failures_name_the_server_never_the_password(
    postgres_run: PostgresRun, tmp_path: Path
) -> None:
    server = postgres_run.server
    config = resolve_settings(
        data_dir=real_data_dir(), project_dir=postgres_run.project_root, target="postgres"
    )
    wrong = {**server.libpq_env(), "PGPASSWORD": "not-the-password-42"}
    with environment(wrong):
        warehouse = PostgresWarehouse(config)
        with pytest.raises(ConfigError) as error:
            warehouse.fetch("select 1")
    message = str(error.value)
    assert f"127.0.0.1:{server.port}" in message
    assert "password authentication failed" in message
    assert "not-the-password-42" not in message
    assert warehouse.describe() == (
        f"PostgreSQL custseg_test@127.0.0.1:{server.port}/custseg_test, schema custseg"
    )
    assert warehouse.relation("customer_features") == '"custseg"."customer_features"'
    assert warehouse.lock_path.parent == postgres_run.project_root / "dbt_pipeline" / "target"


def test_every_relation_name_fits_postgres_identifier_limit() -> None:
    # dbt names a unit test's temporary relation after the test; PostgreSQL cuts at 63 bytes.
    project = REPO_ROOT / "dbt_pipeline"
    names = [path.stem for path in (project / "models").rglob("*.sql")]
    names += list(PUBLISHED_SEEDS)
    for path in (project / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        names += [test["name"] for test in document.get("unit_tests", [])]
    too_long = [name for name in names if len(name.encode()) > 63]
    assert not too_long, f"longer than PostgreSQL's 63-byte identifiers: {too_long}"


def test_two_postgres_runs_give_byte_identical_outputs(
    postgres_run: PostgresRun, tmp_path: Path
) -> None:
    root = copy_project(tmp_path / "again")
    before = pg_history(postgres_run.server)
    result = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(real_data_dir()), "--project-dir", str(root), "--json"],
        env={
            **postgres_run.server.libpq_env(),
            "CUSTSEG_SCHEMA": SCHEMA,
            "CUSTSEG_TARGET": "postgres",
        },
    )
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    for key in PUBLISHED_PATH_KEYS:
        first = comparable(Path(postgres_run.summary[key]))
        assert comparable(Path(again[key])) == first, key
    # Same warehouse, same as-of date: the second run's rows replace the first's in the history.
    after = pg_history(postgres_run.server)
    model = json.loads(Path(again["model_path"]).read_text(encoding="utf-8"))
    assert after.runs == [
        (before.runs[0][0], again["run_id"], model["integrity"]["sha256"], again["n_customers"])
    ]
    assert [row[:4] for row in after.memberships] == [row[:4] for row in before.memberships]
    assert {row[4] for row in after.memberships} == {again["run_id"]} != {before.runs[0][1]}


def test_the_password_is_in_no_file_a_run_writes(postgres_run: PostgresRun) -> None:
    password = postgres_run.server.password.encode()
    written = [path for path in postgres_run.project_root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".log" for path in written)
    for path in written:
        assert password not in path.read_bytes(), path


def test_input_rules_run_before_the_server_is_touched(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = "custseg_input_rules"
    pg_rows(postgres_server, f"drop database if exists {database}")
    pg_rows(postgres_server, f"create database {database}")
    server = dataclasses.replace(postgres_server, database=database)
    root = copy_project(tmp_path / "project")
    good = write_input_files(tmp_path / "good")
    with environment(server.libpq_env()):
        config = resolve_settings(data_dir=good, project_dir=root, target="postgres")
        warehouse = open_warehouse(config)
        warehouse.load_raw(good)
        before = raw_snapshot(server)

        # A broken value: rejected naming file, line and column; the server is not touched.
        bad = write_input_files(
            tmp_path / "bad",
            **{"Tax_amount.csv": "Product_Category,GST\nApparel,18\nOffice,0.1\n"},
        )
        with pytest.raises(InputDataError, match=r"Tax_amount.csv line 2, column gst: '18'"):
            warehouse.load_raw(bad)
        assert raw_snapshot(server) == before

        # An exact duplicate sales line: dropped, counted, and the count is what is loaded.
        sales = INPUT_FILES["Online_Sales.csv"]
        doubled = write_input_files(
            tmp_path / "doubled", **{"Online_Sales.csv": sales + sales.splitlines()[1] + "\n"}
        )
        loaded = {t.table_name: t for t in warehouse.load_raw(doubled)}
    assert loaded["online_sales"].row_count == 2
    assert loaded["online_sales"].repairs == (
        "Online_Sales.csv: dropped 1 exact duplicate line(s) (line 4): each repeats an earlier "
        "line value for value, as a double export does; the first copy was kept.",
    )
    assert pg_rows(server, "select file_line_number from raw.online_sales order by 1") == [
        (2,),
        (3,),
    ]


def test_a_mart_failing_its_own_test_is_put_back_on_postgres(
    postgres_run: PostgresRun, tmp_path: Path
) -> None:
    """The last good mart survives a failed publish, in one transaction on the server."""
    server, schema = postgres_run.server, "custseg_last_good"
    root = copy_project(tmp_path / "project")
    first_data, second_data = tmp_path / "first", tmp_path / "second"
    generate_sample_data(first_data, n_customers=300, seed=3)
    generate_sample_data(second_data, n_customers=320, seed=4)
    mart_sql = f"select * from {schema}.fct_customer_segments order by customer_id"
    with environment({**server.libpq_env(), "CUSTSEG_SCHEMA": schema}):
        run_pipeline(resolve_settings(data_dir=first_data, project_dir=root, target="postgres"))
        good_mart = pg_rows(server, mart_sql)
        (root / "dbt_pipeline" / "tests" / "assert_no_more_than_300_segmented.sql").write_text(
            "select count(*) as customers from {{ ref('fct_customer_segments') }} "
            "having count(*) > 300\n"
        )
        second = resolve_settings(data_dir=second_data, project_dir=root, target="postgres")
        good_history = pg_history(server, schema)
        with pytest.raises(PublishError, match="assert_no_more_than_300_segmented"):
            run_pipeline(second)
    assert pg_rows(server, mart_sql) == good_mart
    # segment_runs was built before the mart failed: it is put back too.
    assert pg_history(server, schema) == good_history
    assert len(good_history.runs) == 1
    assert pg_rows(
        server,
        "select count(*) from information_schema.tables "
        f"where table_schema = '{schema}' and table_name like '%custseg_last_good'",
    ) == [(0,)]


def test_an_order_log_runs_on_postgres_and_an_older_raw_table_gains_its_amount_column(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = "custseg_order_log"
    pg_rows(postgres_server, f"drop database if exists {database}")
    pg_rows(postgres_server, f"create database {database}")
    server = dataclasses.replace(postgres_server, database=database)
    # The raw sales table of an older custseg (no amount column), with a view that needs it.
    old_columns = ", ".join(f"{name} text" for name in raw_table("sales").columns[:-1])
    for statement in (
        "create schema raw",
        f"create table raw.online_sales (file_line_number bigint, {old_columns})",
        "create view public.old_lines as select customerid from raw.online_sales",
    ):
        pg_rows(server, statement)
    lines = order_log(300, seed=4)
    config = write_order_log(tmp_path, lines)
    root = copy_project(tmp_path / "project")
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--project-dir", str(root), "--target", "postgres"]
        + ["--json", "--allow-unsupported-names"],
        env={**server.libpq_env(), "CUSTSEG_SCHEMA": SCHEMA},
    )
    assert result.exit_code == 0, result.output
    as_of = max(day for _, day, _, _ in lines) + dt.timedelta(days=1)
    expected = rfm(lines, as_of)
    rows = pg_rows(
        server,
        "select customer_id, recency_days, count_orders, lifetime_revenue, gender, location "
        f"from {SCHEMA}.fct_customer_segments",
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {c: v[:2] for c, v in expected.items()}
    for customer, _, _, revenue, gender, location in rows:
        assert revenue == pytest.approx(float(expected[customer][2]), rel=1e-12)
        assert (gender, location) == (None, None)
    assert pg_rows(server, "select count(*) from raw.customers_data") == [(0,)]
    assert pg_rows(server, "select count(*) from public.old_lines") == [(len(lines),)]
