"""The metrics layer: MetricFlow's `mf query` over the semantic model of fct_customer_segments
gives the numbers of the mart and of the segment report, on the DuckDB file of a real run."""

from __future__ import annotations

import csv
import decimal
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from custseg.pipeline import RunResult
from custseg.report.data import read_mart
from custseg.settings import Settings
from custseg.warehouses.duckdb_warehouse import DuckDBWarehouse
from tests.support import CLEAN_ENV

BIN = Path(sys.executable).parent
SEGMENT = "customer_segment__segment_id,customer_segment__segment_name"


@pytest.fixture(scope="module")
def metrics_project(duckdb_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real run's dbt project and DuckDB file, with the time spine built.

    A copy: the session's run stays as the other tests read it.
    """
    assert duckdb_run.duckdb_path is not None
    project = tmp_path_factory.mktemp("metrics") / "dbt_pipeline"
    shutil.copytree(
        duckdb_run.duckdb_path.parent,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"),
    )
    # The file and its write-ahead log, which may hold the run's last tables.
    for suffix in ("", ".wal"):
        source = Path(f"{duckdb_run.duckdb_path}{suffix}")
        if source.is_file():
            shutil.copyfile(source, project / f"custseg.duckdb{suffix}")
    # dbt and mf as a user runs them, each a process of its own: dbt in this process would keep
    # the DuckDB file open, and so locked against mf.
    run_in(project, [str(BIN / "dbt"), "build", "--select", "time_spine_daily"])
    return project


def run_in(project: Path, command: list[str]) -> str:
    """Run ``command`` from the dbt project with its profile on the project's DuckDB file."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env |= {
        "CUSTSEG_DUCKDB_PATH": str(project / "custseg.duckdb"),
        "DBT_PROFILES_DIR": str(project),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def mart_rows(project: Path, sql: str) -> list[tuple]:
    with DuckDBWarehouse(Settings(duckdb_path=project / "custseg.duckdb")) as warehouse:
        return warehouse.fetch(sql)


def mf_query(project: Path, metrics: str, group_by: str) -> list[dict[str, str]]:
    """Rows of `mf query --csv`, run from the dbt project as a user runs it."""
    out = project / "target" / f"mf_{len(list(project.glob('target/mf_*.csv')))}.csv"
    run_in(
        project,
        [str(BIN / "mf"), "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out)],
    )
    with open(out, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_semantic_manifest_declares_the_metrics_and_the_time_spine(
    metrics_project: Path,
) -> None:
    manifest = json.loads((metrics_project / "target" / "semantic_manifest.json").read_text())
    (model,) = manifest["semantic_models"]
    assert model["node_relation"]["alias"] == "fct_customer_segments"
    dimensions = {d["name"]: d["type"] for d in model["dimensions"]}
    assert dimensions == {
        "segment_id": "categorical",
        "segment_name": "categorical",
        "activity_status": "categorical",
        "location": "categorical",
        "as_of_date": "time",
        "updated_at": "time",
    }
    assert model["defaults"]["agg_time_dimension"] == "as_of_date"
    metrics = {m["name"]: m["type"] for m in manifest["metrics"]}
    assert metrics == {"customers": "simple", "revenue": "simple", "revenue_per_customer": "ratio"}
    (spine,) = manifest["project_configuration"]["time_spines"]
    assert spine["node_relation"]["alias"] == "time_spine_daily"


def test_metrics_per_segment_equal_the_mart_and_the_report(
    duckdb_run: RunResult, metrics_project: Path
) -> None:
    rows = mf_query(metrics_project, "customers,revenue,revenue_per_customer", SEGMENT)
    by_mf = {
        (int(row["customer_segment__segment_id"]), row["customer_segment__segment_name"]): row
        for row in rows
    }
    # Straight from the mart, summed as decimals as the semantic model's measure is.
    by_sql = {
        (segment_id, name): (customers, revenue)
        for segment_id, name, customers, revenue in mart_rows(
            metrics_project,
            "select segment_id, segment_name, count(*), "
            "sum(cast(lifetime_revenue as decimal(38, 10))) "
            "from fct_customer_segments group by segment_id, segment_name",
        )
    }
    with DuckDBWarehouse(Settings(duckdb_path=metrics_project / "custseg.duckdb")) as warehouse:
        report = read_mart(warehouse, max_points=1, random_state=0)
    by_report = {(s.segment_id, s.segment_name): s for s in report.segments}
    assert set(by_mf) == set(by_sql) == set(by_report)
    assert len(by_mf) == duckdb_run.n_segments
    for key, row in by_mf.items():
        customers, revenue = int(row["customers"]), decimal.Decimal(row["revenue"])
        assert (customers, revenue) == by_sql[key], key
        facts = by_report[key]
        assert customers == facts.customers, key
        assert float(revenue) == facts.revenue, key
        # MetricFlow divides in double precision, the report its exact sums: 1e-12 apart at most.
        assert float(row["revenue_per_customer"]) == pytest.approx(facts.mean_revenue, rel=1e-12)
    assert sum(int(row["customers"]) for row in rows) == duckdb_run.n_customers


def test_metrics_by_activity_status_location_and_as_of_date_equal_the_mart(
    duckdb_run: RunResult, metrics_project: Path
) -> None:
    group_by = "customer_segment__activity_status,customer_segment__location,metric_time__day"
    rows = mf_query(metrics_project, "customers,revenue", group_by)
    by_mf = {
        (
            row["customer_segment__activity_status"],
            row["customer_segment__location"],
            row["metric_time__day"][:10],
        ): (int(row["customers"]), decimal.Decimal(row["revenue"]))
        for row in rows
    }
    by_sql = {
        (status, location, as_of_date.isoformat()): (customers, revenue)
        for status, location, as_of_date, customers, revenue in mart_rows(
            metrics_project,
            "select activity_status, location, as_of_date, count(*), "
            "sum(cast(lifetime_revenue as decimal(38, 10))) from fct_customer_segments "
            "group by activity_status, location, as_of_date",
        )
    }
    assert by_mf == by_sql
    assert {key[2] for key in by_mf} == {duckdb_run.as_of_date.isoformat()}
    # The as-of date lies in the time spine MetricFlow joins for metric_time.
    with DuckDBWarehouse(Settings(duckdb_path=metrics_project / "custseg.duckdb")) as warehouse:
        ((first, last),) = warehouse.fetch(
            "select min(date_day), max(date_day) from time_spine_daily"
        )
    assert first <= duckdb_run.as_of_date <= last
