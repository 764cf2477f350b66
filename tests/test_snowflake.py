"""`custseg run --target snowflake` against the fakesnow emulator, compared with a DuckDB run.

The emulator runs as a server in its own process (tests/fakesnow_server.py): custseg's warehouse
and dbt-snowflake reach it through the real snowflake-connector-python over HTTP, as they reach
an account. One run of the flow on the real dataset per module (about 45 s: fakesnow translates
every statement with sqlglot and runs it on DuckDB); the tests then read the mart, the raw tables
and the published files. What the emulator proves, and what only a real account can, is in the
README's Engines section. Without fakesnow these tests skip, in CI they fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
from click.testing import CliRunner

import custseg.features
import custseg.pipeline
import custseg.run_publish
import custseg.warehouses.snowflake_warehouse as snowflake_module
from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation, DbtNodeResult, run_dbt
from custseg.errors import ConfigError, InputDataError
from custseg.pipeline import RunResult
from custseg.publish.publication import LAST_GOOD_SUFFIX, publication
from custseg.settings import SCHEMA_ENV, ProjectLayout, resolve_settings
from custseg.warehouses import open_warehouse
from custseg.warehouses.snowflake_warehouse import SnowflakeSettings
from tests.fakesnow_server import FakesnowServer, require_fakesnow, running_fakesnow
from tests.postgres_server import environment
from tests.support import (
    RERUN_ID,
    assert_multi_column_tests_count_each_column,
    comparable,
    copy_project,
    duckdb_rows,
    invoice_total_by_hand,
    real_data_dir,
    rerun_history,
)

SCHEMA = "custseg"
PARSE_DATE_CHECK = "test.custseg.assert_parse_mdy_date_matches_expected_dates"
RAW_TABLES = ("customers_data", "online_sales", "discount_coupon", "tax_amount", "marketing_spend")


@dataclass
class SnowflakeRun:
    server: FakesnowServer
    project_root: Path
    summary: dict[str, Any]
    # Seconds the CLI run took, end to end (the server's start excluded).
    seconds: float
    # Every node of every dbt command the run made.
    dbt_results: list[DbtNodeResult] = field(default_factory=list)


def sf_rows(server: FakesnowServer, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one statement, through the real connector, as a user would query the account."""
    with snowflake.connector.connect(**server.connect_args()) as con, con.cursor() as cur:
        cur.execute(sql)
        return [tuple(row) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def snowflake_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnowflakeRun]:
    data_dir = real_data_dir()
    require_fakesnow()
    root = copy_project(tmp_path_factory.mktemp("snowflake") / "project")
    results: list[DbtNodeResult] = []

    def recording_run_dbt(
        invocation: Any, command: str, *args: str, **options: Any
    ) -> list[DbtNodeResult]:
        node_results = run_dbt(invocation, command, *args, **options)
        results.extend(node_results)
        return node_results

    with running_fakesnow() as server, pytest.MonkeyPatch.context() as spy:
        # Every module of a run that calls dbt: the features and the publication.
        spy.setattr(custseg.features, "run_dbt", recording_run_dbt)
        spy.setattr(custseg.run_publish, "run_dbt", recording_run_dbt)
        started = time.perf_counter()
        # The CLI exactly as a user calls it; CliRunner sets the env for this call only.
        result = CliRunner().invoke(
            cli,
            ["run", "--data-dir", str(data_dir), "--project-dir", str(root)]
            + ["--target", "snowflake", "--json"],
            env={**server.snowflake_env(), "CUSTSEG_SCHEMA": SCHEMA},
        )
        seconds = time.perf_counter() - started
        assert result.exit_code == 0, result.output + server.log.read_text()[-3000:]
        # Then the few nodes the flow does not need (marketing spend), so that every node and
        # test of the project has run on Snowflake: one more dbt command, not a whole build.
        ran = {node.unique_id for node in results}
        rest = sorted(name for uid, name in project_nodes(root).items() if uid not in ran)
        if rest:
            env = {"CUSTSEG_TARGET": "snowflake", SCHEMA_ENV: SCHEMA}
            with environment({**server.snowflake_env(), **env}):
                invocation = DbtInvocation(root / "dbt_pipeline", "snowflake", env)
                recording_run_dbt(invocation, "build", "--select", *rest)
        yield SnowflakeRun(server, root, json.loads(result.stdout), seconds, results)


def project_nodes(project_root: Path) -> dict[str, str]:
    """unique_id -> name of every model, seed, data test and unit test of the project."""
    manifest_path = project_root / "dbt_pipeline" / "target" / "manifest.json"
    content = json.loads(manifest_path.read_text())
    nodes = {
        uid: node["name"]
        for uid, node in content["nodes"].items()
        if node["resource_type"] in {"model", "seed", "test"}
    }
    nodes.update({uid: test["name"] for uid, test in content.get("unit_tests", {}).items()})
    return nodes


def test_the_run_names_the_account_and_leaks_no_password(snowflake_run: SnowflakeRun) -> None:
    server = snowflake_run.server
    print(f"Snowflake (fakesnow) run: {snowflake_run.seconds:.1f} s")
    assert snowflake_run.summary["warehouse"] == (
        f"Snowflake custseg_test@fakesnow via 127.0.0.1:{server.port}, "
        "database CUSTSEG_TEST, schema CUSTSEG"
    )
    assert server.password not in json.dumps(snowflake_run.summary)
    logs = (snowflake_run.project_root / "dbt_pipeline" / "logs").rglob("*")
    for path in (path for path in logs if path.is_file()):
        assert server.password not in path.read_text(errors="replace"), path


def test_every_dbt_node_of_the_project_ran_and_passed_unit_tests_included(
    snowflake_run: SnowflakeRun,
) -> None:
    statuses = {node.unique_id: node.status for node in snowflake_run.dbt_results}
    nodes = project_nodes(snowflake_run.project_root)
    assert set(nodes) <= set(statuses), sorted(set(nodes) - set(statuses))
    # The unit tests need the emulator's override of temporary tables (macros/fakesnow.sql).
    assert len([uid for uid in nodes if uid.startswith("unit_test.")]) >= 4
    tests = [uid for uid in nodes if uid.startswith(("test.", "unit_test."))]
    assert len(tests) > 100
    assert {statuses[uid] for uid in tests} == {"pass"}
    assert statuses[PARSE_DATE_CHECK] == "pass"
    assert {statuses[uid] for uid in nodes if uid not in tests} == {"success"}


def test_the_raw_tables_were_loaded_by_put_and_copy_keeping_text_as_written(
    snowflake_run: SnowflakeRun,
) -> None:
    server = snowflake_run.server
    counts = [sf_rows(server, f"select count(*) from RAW.{table}")[0][0] for table in RAW_TABLES]
    assert counts == [1468, 52924, 204, 20, 365]
    # Ids stay text as written; the line numbers are numbers.
    assert sf_rows(
        server,
        "select data_type from information_schema.columns where table_schema = 'RAW' "
        "and table_name = 'ONLINE_SALES' and column_name in ('FILE_LINE_NUMBER', 'CUSTOMERID') "
        "order by column_name",
    ) == [("TEXT",), ("NUMBER",)]
    ((first_line,),) = sf_rows(server, "select min(file_line_number) from RAW.ONLINE_SALES")
    assert first_line == 2


def test_revenue_equals_duckdb_and_the_invoice_formula(
    snowflake_run: SnowflakeRun, duckdb_run: RunResult
) -> None:
    ((sf_revenue,),) = sf_rows(
        snowflake_run.server, f"select sum(lifetime_revenue) from {SCHEMA}.fct_customer_segments"
    )
    ((duck_revenue,),) = duckdb_rows(
        duckdb_run, "select sum(lifetime_revenue) from fct_customer_segments"
    )
    expected, _ = invoice_total_by_hand(real_data_dir())
    assert float(sf_revenue) == pytest.approx(duck_revenue, rel=1e-9)
    assert float(sf_revenue) == pytest.approx(expected, rel=1e-9)


def test_every_customer_has_the_same_segment_as_on_duckdb(
    snowflake_run: SnowflakeRun, duckdb_run: RunResult
) -> None:
    sql = "select customer_id, segment_id, segment_name from {}"
    sf = sorted(sf_rows(snowflake_run.server, sql.format(f"{SCHEMA}.fct_customer_segments")))
    duck = sorted(duckdb_rows(duckdb_run, sql.format("fct_customer_segments")))
    assert len(sf) == 1468
    assert sf == duck


def test_published_segments_are_byte_identical_and_the_model_equal_to_duckdb(
    snowflake_run: SnowflakeRun, duckdb_run: RunResult
) -> None:
    for key in ("segments_path", "seed_path", "metrics_path"):
        sf_path = Path(snowflake_run.summary[key])
        assert comparable(sf_path) == comparable(getattr(duckdb_run, key)), sf_path.name
    # The model's numbers agree to the last bits only: fakesnow sums the exact decimal invoice
    # amounts as doubles (DuckDB underneath; Snowflake and the other engines sum them exactly),
    # so the features, and the hashes of the model and its input, differ in their last bits.
    sf_model = json.loads(Path(snowflake_run.summary["model_path"]).read_text())
    duck_model = json.loads(duckdb_run.model_path.read_text())
    for model in (sf_model, duck_model):
        del model["integrity"]
        del model["metadata"]["input_fingerprint"]
        del model["metadata"]["run_id"]  # unique per run (custseg.run_identity)
    assert _approx(sf_model, duck_model)


def _approx(actual: Any, expected: Any) -> bool:
    """Equal structures, floats to 1e-12 relative."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys()
        return all(_approx(actual[key], expected[key]) for key in expected)
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected)
        return all(_approx(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12)
        return True
    assert actual == expected
    return True


def raw_snapshot(server: FakesnowServer) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every raw table (rows sorted in Python)."""
    snapshot = {}
    for table in RAW_TABLES:
        rows = sorted(repr(row) for row in sf_rows(server, f"select * from RAW.{table}"))
        snapshot[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return snapshot


def test_multi_column_tests_count_each_broken_rule_on_snowflake(
    snowflake_run: SnowflakeRun,
) -> None:
    """not_null_columns and accepted_ranges read the model once (one aggregate row picked per
    column, no `filter (where ...)`) and return the same rows as on DuckDB."""
    env = {"CUSTSEG_TARGET": "snowflake", SCHEMA_ENV: SCHEMA}
    with environment({**snowflake_run.server.snowflake_env(), **env}):
        invocation = DbtInvocation(snowflake_run.project_root / "dbt_pipeline", "snowflake", env)
        assert_multi_column_tests_count_each_column(invocation)


def test_a_copy_that_fails_leaves_every_previous_raw_table(
    snowflake_run: SnowflakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = snowflake_run.server
    before = raw_snapshot(server)
    real_export = snowflake_module._export_parquet

    def damaged_sales_export(duck: Any, item: Any, folder: Path) -> tuple[Any, Path, int]:
        # The files passed DuckDB's checks; the sales file is damaged on its way to the stage
        # (line numbers that are not numbers), so its COPY fails after the customers table
        # was emptied and filled again in the same transaction.
        exported = real_export(duck, item, folder)
        if item.table.table_name == "online_sales":
            path = exported[1]
            damaged = path.with_name("damaged.parquet")
            duck.execute(
                "copy (select * replace ('line ' || file_line_number as file_line_number) "
                f"from read_parquet('{path}')) to '{damaged}' (format parquet)"
            )
            damaged.replace(path)
        return exported

    monkeypatch.setattr(snowflake_module, "_export_parquet", damaged_sales_export)
    config = resolve_settings(
        data_dir=real_data_dir(), project_dir=snowflake_run.project_root, target="snowflake"
    )
    with (
        environment({**server.snowflake_env(), SCHEMA_ENV: SCHEMA}),
        open_warehouse(config) as warehouse,
        pytest.raises(InputDataError) as error,
    ):
        warehouse.load_raw(real_data_dir())
    assert "Online_Sales.csv: cannot be loaded into Snowflake" in str(error.value)
    assert raw_snapshot(server) == before


def test_settings_name_every_missing_variable_and_never_hold_the_password() -> None:
    with pytest.raises(ConfigError, match="SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_WAREHOUSE"):
        SnowflakeSettings.from_environ({})
    required = {
        "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
        "SNOWFLAKE_USER": "analyst",
        "SNOWFLAKE_WAREHOUSE": "transforming",
        "SNOWFLAKE_DATABASE": "analytics",
    }
    with pytest.raises(ConfigError, match="SNOWFLAKE_PRIVATE_KEY_PATH .* or SNOWFLAKE_PASSWORD"):
        SnowflakeSettings.from_environ(required)
    # Made at run time: a literal password in a tracked file would be a finding of make lint.
    password = secrets.token_hex(8)
    with_password = {**required, "SNOWFLAKE_PASSWORD": password}
    with pytest.raises(ConfigError, match="SNOWFLAKE_PORT"):
        SnowflakeSettings.from_environ({**with_password, "SNOWFLAKE_PORT": "44x"})
    with pytest.raises(ConfigError, match="CUSTSEG_SCHEMA"):
        SnowflakeSettings.from_environ({**with_password, SCHEMA_ENV: "raw"})
    settings = SnowflakeSettings.from_environ(with_password)
    assert password not in repr(settings)
    assert settings.describe() == "analyst@myorg-myaccount, database analytics, schema CUSTSEG"
    # A real account: no host, port or protocol, so the connector uses its own.
    args = settings.connect_args(with_password)
    assert args["password"] == password
    assert {"host", "port", "protocol", "private_key_file"}.isdisjoint(args)
    key_pair = SnowflakeSettings.from_environ(
        {**required, "SNOWFLAKE_PRIVATE_KEY_PATH": "/keys/custseg.p8", "SNOWFLAKE_ROLE": "ML"}
    )
    args = key_pair.connect_args(with_password)
    assert (args["private_key_file"], args["role"]) == ("/keys/custseg.p8", "ML")
    assert "password" not in args


def test_the_history_holds_the_run_and_a_rerun_of_its_date_replaces_it(
    snowflake_run: SnowflakeRun,
) -> None:
    """The run's as-of date in segment_runs and segment_memberships; then a publication of the
    same date by another run, through dbt's delete+insert on the emulator."""
    server, summary = snowflake_run.server, snowflake_run.summary
    runs = f"select as_of_date, run_id, model_version from {SCHEMA}.segment_runs"
    memberships = (
        "select as_of_date, customer_id, segment_id, segment_name, run_id "
        f"from {SCHEMA}.segment_memberships order by customer_id"
    )
    model = json.loads(Path(summary["model_path"]).read_text(encoding="utf-8"))
    version = model["integrity"]["sha256"]
    as_of_date = dt.date.fromisoformat(summary["as_of_date"])
    assert sf_rows(server, runs) == [(as_of_date, summary["run_id"], version)]
    with open(summary["segments_path"], newline="", encoding="utf-8") as handle:
        published = [
            (as_of_date, row["customer_id"], int(row["segment_id"]), row["segment_name"])
            for row in csv.DictReader(handle)
        ]
    assert sf_rows(server, memberships) == [row + (summary["run_id"],) for row in published]

    env = {"CUSTSEG_TARGET": "snowflake", SCHEMA_ENV: SCHEMA}
    with environment({**server.snowflake_env(), **env}):
        invocation = DbtInvocation(snowflake_run.project_root / "dbt_pipeline", "snowflake", env)
        rerun_history(invocation, as_of_date, version, len(published))
    assert sf_rows(server, runs) == [(as_of_date, RERUN_ID, version)]
    assert sf_rows(server, memberships) == [row + (RERUN_ID,) for row in published]


def test_the_publication_journal_puts_tables_back_and_drops_its_copies_on_snowflake(
    snowflake_run: SnowflakeRun,
) -> None:
    # The journal's table operations on Snowflake (table_exists, copy_table, execute,
    # replace_table_statements with a qualified RENAME target, drop_table), without dbt.
    server = snowflake_run.server
    root = snowflake_run.project_root
    tables = ("segment_definitions", "fct_customer_segments")
    config = resolve_settings(data_dir=real_data_dir(), project_dir=root, target="snowflake")

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        return {
            table: sorted(sf_rows(server, f"select * from {SCHEMA}.{table}")) for table in tables
        }

    before = snapshot()
    with (
        environment({**server.snowflake_env(), SCHEMA_ENV: SCHEMA}),
        open_warehouse(config) as warehouse,
    ):
        with (
            pytest.raises(RuntimeError, match="dbt went away"),
            publication(ProjectLayout(root), warehouse, [], tables),
        ):
            assert all(warehouse.table_exists(name + LAST_GOOD_SUFFIX) for name in tables)
            warehouse.execute(*(f"delete from {warehouse.relation(name)}" for name in tables))
            raise RuntimeError("dbt went away")
        assert snapshot() == before
        assert not any(warehouse.table_exists(name + LAST_GOOD_SUFFIX) for name in tables)

        with publication(ProjectLayout(root), warehouse, [], tables):
            warehouse.execute(f"delete from {warehouse.relation(tables[0])} where segment_id = 0")
        assert not any(warehouse.table_exists(name + LAST_GOOD_SUFFIX) for name in tables)
    after = snapshot()
    assert after[tables[1]] == before[tables[1]]
    assert after[tables[0]] == [row for row in before[tables[0]] if row[0] != 0]
