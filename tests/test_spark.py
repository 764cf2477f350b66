"""`custseg run --target spark` on a local Spark session, compared with a DuckDB run.

Both flows run once per module on the real dataset (Spark about a minute: every dbt command
starts its work against a JVM and a Derby metastore). The Spark session is started by the module
fixture before the run, so the run's own warehouse leaves it running for the queries of the tests;
the fixture stops it at teardown. Without Java these tests skip, in CI they fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import custseg.features
import custseg.pipeline
import custseg.run_publish
from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation, DbtNodeResult, run_dbt
from custseg.history import HISTORY_TABLES
from custseg.pipeline import RunResult
from custseg.publish.publication import LAST_GOOD_SUFFIX, publication
from custseg.settings import ProjectLayout, resolve_settings
from custseg.warehouses.spark_warehouse import (
    DRIVER_MEMORY_ENV,
    SCHEMA_ENV,
    SPARK_DIR_ENV,
    SparkWarehouse,
    java_executable,
)
from tests.machine import not_installed
from tests.support import (
    PUBLISHED_PATH_KEYS,
    RERUN_ID,
    assert_multi_column_tests_count_each_column,
    comparable,
    copy_project,
    duckdb_rows,
    invoice_total_by_hand,
    real_data_dir,
    rerun_history,
    write_input_files,
)
from tests.test_order_log import order_log, rfm, write_order_log

SPARK_VARIABLES = (SPARK_DIR_ENV, DRIVER_MEMORY_ENV, SCHEMA_ENV, "CUSTSEG_TARGET")
PARSE_DATE_CHECK = "test.custseg.assert_parse_mdy_date_matches_expected_dates"


def require_java() -> None:
    """Skip without Java (fail in CI, where it must be installed)."""
    if java_executable() is not None:
        return
    message = "Java not found (JAVA_HOME or java on PATH): the Spark tests need Java 17"
    not_installed(message)


@dataclass
class DbtCall:
    args: tuple[str, ...]
    results: list[DbtNodeResult] = field(default_factory=list)


@dataclass(frozen=True)
class SparkRun:
    project_root: Path
    summary: dict[str, Any]
    # The session the tests query through (started by the fixture, as the run found it).
    warehouse: SparkWarehouse
    # Every dbt command the run made, with its node results.
    dbt_calls: list[DbtCall]
    # What the JVM wrote to stderr while the session started.
    session_start_stderr: str
    # What the (empty) current folder of the run held afterwards.
    cwd_after: list[str]


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkRun]:
    data_dir = real_data_dir()
    require_java()
    root = copy_project(tmp_path_factory.mktemp("spark") / "project")
    calls: list[DbtCall] = []

    def recording_run_dbt(
        invocation: Any, command: str, *args: str, **options: Any
    ) -> list[DbtNodeResult]:
        call = DbtCall((command, *args))
        calls.append(call)
        call.results = run_dbt(invocation, command, *args, **options)
        return call.results

    with pytest.MonkeyPatch.context() as patch:
        for name in (*SPARK_VARIABLES, "SPARK_CONF_DIR"):
            patch.delenv(name, raising=False)
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # undone at teardown like the rest
        # An empty current folder: anything Spark, Hive or Derby dropped there would show.
        cwd = tmp_path_factory.mktemp("cwd")
        patch.chdir(cwd)
        config = resolve_settings(data_dir=data_dir, project_dir=root, target="spark")
        warehouse = SparkWarehouse(config)
        try:
            with jvm_stderr_to(cwd.parent / "session_start_stderr.txt") as stderr_file:
                warehouse.session  # noqa: B018 - start the session this module owns
            with pytest.MonkeyPatch.context() as spy:
                # Every module of a run that calls dbt: the features and the publication.
                spy.setattr(custseg.features, "run_dbt", recording_run_dbt)
                spy.setattr(custseg.run_publish, "run_dbt", recording_run_dbt)
                result = CliRunner().invoke(
                    cli,
                    ["run", "--data-dir", str(data_dir), "--project-dir", str(root)]
                    + ["--target", "spark", "--json"],
                )
            assert result.exit_code == 0, result.output
            # Then the few nodes the flow does not need (marketing spend), so that every test
            # of the project has run on Spark: one more dbt command, not a whole `dbt build`.
            rest = nodes_not_run(root, calls)
            if rest:
                invocation = DbtInvocation(root / "dbt_pipeline", "spark", warehouse.dbt_env())
                recording_run_dbt(invocation, "build", "--select", *rest)
            yield SparkRun(
                project_root=root,
                summary=json.loads(result.stdout),
                warehouse=warehouse,
                dbt_calls=calls,
                session_start_stderr=stderr_file.read_text(errors="replace"),
                cwd_after=sorted(os.listdir(cwd)),
            )
        finally:
            warehouse.close()  # stops the session: this warehouse started it


@contextlib.contextmanager
def jvm_stderr_to(path: Path) -> Iterator[Path]:
    """Send file descriptor 2 to ``path`` meanwhile: the JVM pyspark starts inherits it."""
    saved = os.dup(2)
    try:
        with path.open("wb") as sink:
            os.dup2(sink.fileno(), 2)
            yield path
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def manifest(project_root: Path) -> dict[str, Any]:
    return json.loads((project_root / "dbt_pipeline" / "target" / "manifest.json").read_text())


def project_nodes(project_root: Path) -> dict[str, str]:
    """unique_id -> name of every model, seed, data test and unit test of the project."""
    content = manifest(project_root)
    nodes = {
        uid: node["name"]
        for uid, node in content["nodes"].items()
        if node["resource_type"] in {"model", "seed", "test"}
    }
    nodes.update({uid: test["name"] for uid, test in content.get("unit_tests", {}).items()})
    return nodes


def nodes_not_run(project_root: Path, calls: list[DbtCall]) -> list[str]:
    ran = {node.unique_id for call in calls for node in call.results}
    return sorted(name for uid, name in project_nodes(project_root).items() if uid not in ran)


def spark_rows(run: SparkRun, sql: str) -> list[tuple[Any, ...]]:
    return run.warehouse.fetch(sql.format(schema=run.warehouse.schema))


def test_every_customer_is_segmented_in_csv_and_mart(spark_run: SparkRun) -> None:
    assert spark_run.summary["n_customers"] == 1468
    assert spark_run.summary["warehouse"] == (
        f"Spark session, warehouse {spark_run.project_root}/dbt_pipeline/target/spark/warehouse, "
        "schema custseg"
    )
    segments_csv = Path(spark_run.summary["segments_path"]).read_text().splitlines()
    assert len(segments_csv) - 1 == 1468
    assert spark_rows(
        spark_run,
        "select count(*), count(distinct customer_id) from {schema}.fct_customer_segments",
    ) == [(1468, 1468)]


def test_every_dbt_test_of_the_project_ran_and_passed(spark_run: SparkRun) -> None:
    # The run's two builds (features, then the seeds and everything downstream), and one build
    # of the nodes the flow does not need.
    assert [call.args[0] for call in spark_run.dbt_calls] in (["build"] * 2, ["build"] * 3)
    statuses = {
        node.unique_id: node.status for call in spark_run.dbt_calls for node in call.results
    }
    nodes = project_nodes(spark_run.project_root)
    assert set(nodes) <= set(statuses), sorted(set(nodes) - set(statuses))
    tests = [uid for uid in nodes if uid.startswith(("test.", "unit_test."))]
    assert len(tests) > 100
    assert {statuses[uid] for uid in tests} == {"pass"}
    assert statuses[PARSE_DATE_CHECK] == "pass"
    assert {statuses[uid] for uid in nodes if uid not in tests} == {"success"}


def test_revenue_equals_the_invoice_formula_and_money_keeps_ten_places(
    spark_run: SparkRun, duckdb_run: RunResult
) -> None:
    expected, lines = invoice_total_by_hand(real_data_dir())
    ((revenue,),) = spark_rows(
        spark_run, "select sum(lifetime_revenue) from {schema}.fct_customer_segments"
    )
    assert isinstance(revenue, float)
    assert revenue == pytest.approx(expected, rel=1e-9)
    # Invoice amounts are decimal(38, 10) on both engines, so their sums agree to the last place.
    ((spark_type, spark_sum, spark_lines),) = spark_rows(
        spark_run,
        "select typeof(max(invoice_amount)), sum(invoice_amount), count(*) from {schema}.fct_sales",
    )
    ((duck_sum,),) = duckdb_rows(duckdb_run, "select sum(invoice_amount) from fct_sales")
    assert spark_type == "decimal(38,10)"
    assert spark_lines == lines
    assert isinstance(spark_sum, Decimal)
    assert spark_sum.as_tuple().exponent == -10
    assert spark_sum == duck_sum


def test_features_and_segments_equal_duckdb_for_every_customer(
    spark_run: SparkRun, duckdb_run: RunResult
) -> None:
    columns = (
        "customer_id, as_of_date, recency_days, count_orders, lifetime_revenue, avg_order_value"
    )
    sql = f"select {columns} from {{relation}} order by customer_id"
    spark = spark_rows(spark_run, sql.format(relation="{schema}.customer_features"))
    duck = duckdb_rows(duckdb_run, sql.format(relation="customer_features"))
    assert len(spark) == 1468
    assert spark == duck  # exactly: same dates, counts and float bits
    sql = "select customer_id, segment_id, segment_name from {} order by customer_id"
    assert spark_rows(spark_run, sql.format("{schema}.fct_customer_segments")) == duckdb_rows(
        duckdb_run, sql.format("fct_customer_segments")
    )
    # Seed text with apostrophes ("... below Big Spenders'") and doubles load unchanged.
    sql = "select * from {} order by segment_id"
    definitions = spark_rows(spark_run, sql.format("{schema}.segment_definitions"))
    assert any("'" in str(value) for row in definitions for value in row)
    assert definitions == duckdb_rows(duckdb_run, sql.format("segment_definitions"))


def test_published_files_are_byte_identical_to_duckdb(
    spark_run: SparkRun, duckdb_run: RunResult
) -> None:
    for key in PUBLISHED_PATH_KEYS:
        published = comparable(Path(spark_run.summary[key]))
        assert published == comparable(getattr(duckdb_run, key)), key


def test_nothing_is_written_into_the_current_directory(spark_run: SparkRun) -> None:
    assert spark_run.cwd_after == []
    spark_dir = spark_run.project_root / "dbt_pipeline" / "target" / "spark"
    assert (spark_dir / "metastore_db").is_dir()
    assert (spark_dir / "derby" / "derby.log").is_file()
    assert (spark_dir / "hive-resources").is_dir()
    assert sorted(p.name for p in (spark_dir / "warehouse").iterdir()) == ["custseg.db", "raw.db"]


def test_raw_tables_hold_text_and_the_file_line_numbers(spark_run: SparkRun) -> None:
    rows = spark_rows(
        spark_run,
        "select count(*), min(file_line_number), max(file_line_number), typeof(max(customerid)) "
        "from raw.online_sales",
    )
    assert rows == [(52924, 2, 52925, "string")]
    loaded = {table["table"]: table["rows"] for table in spark_run.summary["loaded_tables"]}
    assert loaded["online_sales"] == 52924
    assert set(loaded) == {
        "customers_data",
        "online_sales",
        "discount_coupon",
        "tax_amount",
        "marketing_spend",
    }


# Checks that need no Spark session.


def rendered_spark_output(project_dir: Path) -> dict[str, Any]:
    """The `spark` output of profiles.yml as dbt renders it under the current environment."""
    from dbt.adapters.spark.connections import SparkCredentials
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(os.environ))
    raw = read_profile(str(project_dir))["custseg"]["outputs"]["spark"]
    rendered = ProfileRenderer({}).render_data(raw)
    # The credentials object adds what dbt-spark forces (ANSI mode off).
    credentials = SparkCredentials.from_dict(
        {key: value for key, value in rendered.items() if key not in {"type", "threads"}}
    )
    return {
        "method": str(credentials.method),
        "schema": credentials.schema,
        "server_side_parameters": credentials.server_side_parameters,
    }


@pytest.mark.parametrize(
    "overrides",
    [{}, {SPARK_DIR_ENV: "elsewhere/spark", DRIVER_MEMORY_ENV: "3g", SCHEMA_ENV: "segments"}],
)
def test_warehouse_and_dbt_profile_start_the_same_session(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in SPARK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    config = resolve_settings(data_dir=tmp_path, project_dir=project_root, target="spark")
    warehouse = SparkWarehouse(config)
    expected_dir = (
        tmp_path / overrides[SPARK_DIR_ENV]
        if overrides
        else project_root / "dbt_pipeline" / "target" / "spark"
    )
    assert warehouse.spark_dir == expected_dir.resolve()
    env = warehouse.dbt_env()
    assert env[SPARK_DIR_ENV] == str(expected_dir.resolve())
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    profile = rendered_spark_output(project_root / "dbt_pipeline")
    assert profile["method"].endswith("session")
    assert profile["schema"] == warehouse.schema == overrides.get(SCHEMA_ENV, "custseg")
    assert profile["server_side_parameters"] == warehouse.spark_conf
    assert warehouse.relation("fct_sales") == f"{warehouse.schema}.fct_sales"
    assert warehouse.lock_path.parent == project_root / "dbt_pipeline" / "target"


def test_bad_input_is_refused_before_spark_starts_or_any_table_changes(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custseg.warehouses.spark_warehouse as spark_warehouse
    from custseg.errors import InputDataError

    def no_spark(settings: dict[str, str]) -> Any:
        raise AssertionError("Spark must not start before every file is validated")

    monkeypatch.setattr(spark_warehouse, "start_session", no_spark)
    monkeypatch.delenv(SPARK_DIR_ENV, raising=False)
    header_only = "Date,Offline_Spend,Online_Spend\n"
    data = write_input_files(tmp_path / "data", **{"Marketing_Spend.csv": header_only})
    config = resolve_settings(data_dir=data, project_dir=project_root, target="spark")
    with SparkWarehouse(config) as warehouse, pytest.raises(InputDataError, match="no data rows"):
        warehouse.load_raw(data)
    (data / "Online_Sales.csv").unlink()
    with SparkWarehouse(config) as warehouse, pytest.raises(InputDataError, match="Online_Sales"):
        warehouse.load_raw(data)
    # Nothing was exported for Spark: the files were refused before.
    spark_dir = project_root / "dbt_pipeline" / "target" / "spark"
    assert not spark_dir.exists() or list(spark_dir.iterdir()) == []


def test_multi_column_tests_count_each_broken_rule_on_spark(spark_run: SparkRun) -> None:
    """not_null_columns and accepted_ranges read the model once (one aggregate row picked per
    column, no CTE read twice) and return the same rows as on DuckDB."""
    invocation = DbtInvocation(
        spark_run.project_root / "dbt_pipeline", "spark", spark_run.warehouse.dbt_env()
    )
    assert_multi_column_tests_count_each_column(invocation)


def test_the_last_good_mart_is_put_back_after_a_failed_publish(spark_run: SparkRun) -> None:
    warehouse = spark_run.warehouse
    mart = "select * from {schema}.fct_customer_segments order by customer_id"
    before = spark_rows(spark_run, mart)
    copy = "fct_customer_segments" + LAST_GOOD_SUFFIX
    layout = ProjectLayout(spark_run.project_root)
    kept = ("fct_customer_segments",)
    with publication(layout, warehouse, [], kept):
        assert warehouse.table_exists(copy)
    assert not warehouse.table_exists(copy)
    with (
        pytest.raises(RuntimeError, match="failed publish"),
        publication(layout, warehouse, [], kept),
    ):
        # What a failed rebuild may leave: the mart gone or half written.
        warehouse.execute(f"drop table {warehouse.relation('fct_customer_segments')}")
        raise RuntimeError("a failed publish")
    assert spark_rows(spark_run, mart) == before
    assert not warehouse.table_exists(copy)


def test_the_history_put_back_after_a_failed_publish_takes_the_next_run(
    spark_run: SparkRun,
) -> None:
    """dbt's insert_overwrite names the history's partition column (as_of_date): the copies a
    publication keeps, and so the tables it puts back, are partitioned as dbt built them, and
    the next publication of the date overwrites that date's rows."""
    warehouse, summary = spark_run.warehouse, spark_run.summary
    runs = "select as_of_date, run_id, model_version from {schema}.segment_runs"
    memberships = (
        "select as_of_date, customer_id, segment_id, segment_name, run_id "
        "from {schema}.segment_memberships order by customer_id"
    )
    model = json.loads(Path(summary["model_path"]).read_text(encoding="utf-8"))
    as_of_date = dt.date.fromisoformat(summary["as_of_date"])
    assert spark_rows(spark_run, runs) == [
        (as_of_date, summary["run_id"], model["integrity"]["sha256"])
    ]
    published = spark_rows(spark_run, memberships)
    assert len(published) == 1468
    assert {row[4] for row in published} == {summary["run_id"]}

    with (
        pytest.raises(RuntimeError, match="failed publish"),
        publication(ProjectLayout(spark_run.project_root), warehouse, [], HISTORY_TABLES),
    ):
        for table in HISTORY_TABLES:
            warehouse.execute(f"drop table {warehouse.relation(table)}")
        raise RuntimeError("a failed publish")
    assert spark_rows(spark_run, memberships) == published
    for table in HISTORY_TABLES:
        assert not warehouse.table_exists(table + LAST_GOOD_SUFFIX)
    # The two incremental tables (the others are rebuilt whole from them).
    for table in ("segment_runs", "segment_memberships"):
        columns = warehouse.session.catalog.listColumns(warehouse.relation(table))
        assert [column.name for column in columns if column.isPartition] == ["as_of_date"]

    invocation = DbtInvocation(
        spark_run.project_root / "dbt_pipeline", "spark", warehouse.dbt_env()
    )
    rerun_history(invocation, as_of_date, model["integrity"]["sha256"], 1468)
    assert spark_rows(spark_run, runs) == [(as_of_date, RERUN_ID, model["integrity"]["sha256"])]
    assert spark_rows(spark_run, memberships) == [row[:4] + (RERUN_ID,) for row in published]


def test_starting_the_session_prints_no_spark_boilerplate(spark_run: SparkRun) -> None:
    """`--quiet` means quiet: Spark's default-log-level notice and Hadoop's native-library
    warning are not printed (custseg gives Spark a logging configuration of its own)."""
    printed = spark_run.session_start_stderr
    assert "Setting default log level" not in printed, printed
    assert "NativeCodeLoader" not in printed, printed
    conf = spark_run.warehouse.spark_dir / "conf" / "log4j2.properties"
    assert "NativeCodeLoader" in conf.read_text()


# Last in the module: it replaces the raw tables the tests above read.


def test_an_order_log_runs_on_spark(spark_run: SparkRun, tmp_path: Path) -> None:
    """Only [inputs.sales]: the absent inputs are empty tables, every dbt test passes, and
    recency, orders and revenue are those computed by hand. The module's session is reused
    (same Spark folder), the models go to a schema of their own."""
    lines = order_log(300, seed=4)
    config = write_order_log(tmp_path, lines)
    root = copy_project(tmp_path / "project")
    spark_dir = spark_run.warehouse.spark_dir
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--project-dir", str(root), "--target", "spark"]
        + ["--json", "--allow-unsupported-names"],
        env={SPARK_DIR_ENV: str(spark_dir), SCHEMA_ENV: "custseg_order_log"},
    )
    assert result.exit_code == 0, result.output
    as_of = max(day for _, day, _, _ in lines) + dt.timedelta(days=1)
    expected = rfm(lines, as_of)
    rows = spark_run.warehouse.fetch(
        "select customer_id, recency_days, count_orders, lifetime_revenue, gender, location "
        "from custseg_order_log.fct_customer_segments"
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {c: v[:2] for c, v in expected.items()}
    for customer, _, _, revenue, gender, location in rows:
        assert revenue == pytest.approx(float(expected[customer][2]), rel=1e-12)
        assert (gender, location) == (None, None)
    assert spark_run.warehouse.fetch("select count(*) from raw.customers_data") == [(0,)]
