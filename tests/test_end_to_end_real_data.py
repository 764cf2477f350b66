"""The whole flow on the real Marketing Insights dataset, on a real DuckDB file and real dbt."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from custseg.catalogue import SEGMENT_NAMES
from custseg.pipeline import RunResult, run_pipeline
from custseg.settings import resolve_settings
from tests.support import copy_project, invoice_total_by_hand, real_data_dir


@dataclass(frozen=True)
class RealRun:
    project_root: Path
    result: RunResult


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    data_dir = real_data_dir()
    root = copy_project(tmp_path_factory.mktemp("real") / "project")
    config = resolve_settings(data_dir=data_dir, project_dir=root)
    return RealRun(project_root=root, result=run_pipeline(config))


def mart(run: RealRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.result.duckdb_path)) as con:
        return con.execute(sql).fetchall()


def test_every_customer_is_segmented_in_csv_seed_and_mart(real_run: RealRun) -> None:
    csv_rows = real_run.result.segments_path.read_text().splitlines()
    assert csv_rows[0] == "customer_id,segment_id,segment_name"
    assert len(csv_rows) - 1 == 1468
    assert real_run.result.seed_path.read_bytes() == real_run.result.segments_path.read_bytes()
    assert mart(
        real_run, "select count(*), count(distinct customer_id) from fct_customer_segments"
    ) == [(1468, 1468)]


def test_mart_revenue_equals_the_invoice_formula_over_all_lines(real_run: RealRun) -> None:
    expected, lines = invoice_total_by_hand(real_data_dir())
    assert lines == 52924
    assert expected == pytest.approx(5_397_358.75, abs=0.01)
    ((revenue,),) = mart(real_run, "select sum(lifetime_revenue) from fct_customer_segments")
    assert revenue == pytest.approx(expected, rel=1e-12)


def test_frequency_counts_orders_not_sales_lines(real_run: RealRun) -> None:
    # 26,631 distinct (customer, transaction) pairs in 52,924 lines.
    assert mart(real_run, "select sum(count_orders) from fct_customer_segments") == [(26631,)]


def test_activity_is_measured_against_the_as_of_date_not_today(real_run: RealRun) -> None:
    assert str(real_run.result.as_of_date) == "2020-01-01"
    statuses = dict(
        mart(real_run, "select activity_status, count(*) from fct_customer_segments group by 1")
    )
    assert len(statuses) >= 3, statuses
    ((minimum, maximum),) = mart(
        real_run,
        "select min(recency_days), max(recency_days) from fct_customer_segments",
    )
    assert (minimum, maximum) == (1, 365)


def test_all_five_named_segments_with_their_fixed_ids(real_run: RealRun) -> None:
    rows = mart(
        real_run,
        "select distinct segment_id, segment_name from fct_customer_segments order by 1",
    )
    assert rows == sorted(SEGMENT_NAMES.items())
    assert [segment.segment_name for segment in real_run.result.segments] == list(
        SEGMENT_NAMES.values()
    )


def test_same_input_and_config_give_byte_identical_outputs(
    real_run: RealRun, tmp_path: Path
) -> None:
    root = copy_project(tmp_path / "again")
    again = run_pipeline(resolve_settings(data_dir=real_data_dir(), project_dir=root))
    first = real_run.result
    for a, b in (
        (first.segments_path, again.segments_path),
        (first.model_path, again.model_path),
        (first.metrics_path, again.metrics_path),
    ):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_the_original_guide_dbt_commands_work_from_dbt_pipeline(real_run: RealRun) -> None:
    project_dir = real_run.project_root / "dbt_pipeline"
    env = {
        **os.environ,
        "CUSTSEG_DUCKDB_PATH": str(real_run.result.duckdb_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    for command in (
        ["build", "--select", "customer_segments", "fct_customer_segments"],
        ["docs", "generate"],
    ):
        completed = subprocess.run(
            [dbt, *command], cwd=project_dir, env=env, capture_output=True, text=True
        )
        assert completed.returncode == 0, completed.stdout[-3000:]
    assert (project_dir / "target" / "catalog.json").is_file()
    assert mart(real_run, "select count(*) from fct_customer_segments") == [(1468,)]


def test_every_name_is_supported_and_no_segment_is_tiny(real_run: RealRun) -> None:
    rows = mart(
        real_run,
        "select segment_id, name_check_passed, customer_share from segment_definitions "
        "order by segment_id",
    )
    assert [row[0] for row in rows] == [0, 1, 2, 3, 4]
    assert all(row[1] for row in rows)
    assert min(row[2] for row in rows) >= 0.05
    assert real_run.result.warnings == []


def test_sql_scoring_equals_python_scoring_for_every_customer(real_run: RealRun) -> None:
    with open(real_run.result.segments_path, newline="") as handle:
        python = {row["customer_id"]: int(row["segment_id"]) for row in csv.DictReader(handle)}
    sql = dict(mart(real_run, "select customer_id, segment_id from customer_segment_scores"))
    assert sql == python
