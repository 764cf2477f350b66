"""The whole flow on the real Marketing Insights dataset, on a real DuckDB file and real dbt."""

from __future__ import annotations

import bisect
import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from custseg.catalogue import CATALOGUE, ORIGINAL_IDS, SEGMENT_NAMES
from custseg.dbt.runner import DbtInvocation, parse_project, run_dbt
from custseg.errors import DbtError
from custseg.model.features import FEATURES
from custseg.pipeline import RunResult, run_pipeline
from custseg.run_result import segment_guide
from custseg.settings import published_seed_paths, resolve_settings
from tests.support import (
    assert_multi_column_tests_count_each_column,
    comparable,
    copy_project,
    invoice_total_by_hand,
    real_data_dir,
)


@dataclass(frozen=True)
class RealRun:
    project_root: Path
    result: RunResult


@pytest.fixture(scope="module")
def real_run(duckdb_run: RunResult) -> RealRun:
    """The session's run on the real dataset (tests/conftest.py), shared with the other engines'
    tests: read only here, and commands that write go to a :func:`scratch_copy` of it."""
    # The run's warehouse is <root>/dbt_pipeline/custseg.duckdb (the default path).
    assert duckdb_run.duckdb_path is not None
    return RealRun(project_root=duckdb_run.duckdb_path.parents[1], result=duckdb_run)


def mart(run: RealRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.result.duckdb_path)) as con:
        return con.execute(sql).fetchall()


def scratch_copy(run: RealRun, destination: Path) -> DbtInvocation:
    """dbt on a copy of the run's project and warehouse, for commands that must not touch them."""
    project = destination / "dbt_pipeline"
    shutil.copytree(
        run.project_root / "dbt_pipeline",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"),
    )
    database = destination / "warehouse.duckdb"
    assert run.result.duckdb_path is not None
    shutil.copyfile(run.result.duckdb_path, database)
    # The last writes may still be in DuckDB's write-ahead log beside the file.
    wal = run.result.duckdb_path.with_name(run.result.duckdb_path.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, database.with_name(database.name + ".wal"))
    return DbtInvocation(project, "duckdb", env={"CUSTSEG_DUCKDB_PATH": str(database)})


def scratch_rows(invocation: DbtInvocation, sql: str) -> list[tuple]:
    assert invocation.env is not None
    with duckdb.connect(invocation.env["CUSTSEG_DUCKDB_PATH"]) as con:
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
    # The five names of the original guide, with their ids: no rule fails on this data, so no
    # name of the wider catalogue is needed.
    original = [(s, SEGMENT_NAMES[s]) for s in ORIGINAL_IDS]
    assert rows == original
    assert [segment.segment_name for segment in real_run.result.segments] == [
        name for _, name in original
    ]


def test_every_segment_says_what_it_means_and_what_to_do(real_run: RealRun) -> None:
    seed = published_seed_paths(real_run.project_root / "dbt_pipeline")
    with open(seed["segment_definitions"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    published = {
        int(row["segment_id"]): (row["segment_description"], row["recommended_action"])
        for row in rows
    }
    # The rule's measured numbers are published with it, absolute clauses included.
    numbers = {int(row["segment_id"]): row["name_check_numbers"] for row in rows}
    model = json.loads(real_run.result.model_path.read_text(encoding="utf-8"))
    checks = model["model"]["name_checks"]
    assert numbers == {check["segment_id"]: check["detail"] for check in checks}
    # The absolute clauses, with the numbers the README quotes: repeat buyers, silence counted in
    # each customer's usual gap between purchases (the data's usual gap: 50.8 days).
    assert numbers[1].endswith(
        "median orders 13.00 is at least 2.00 (repeat buyers); "
        "median silence 5.93 usual gaps (more than 1: silent for longer than the usual gap)"
    )
    assert numbers[4].endswith(
        "median orders 7.00 is at least 2.00 (repeat buyers); "
        "median silence 1.64 usual gaps (at most 2: bought within about one usual gap)"
    )
    assert numbers[3].endswith(
        "median silence 1.02 usual gaps (at most 2: bought within about one usual gap)"
    )
    assert "median order value 336.66 is 1.72 times the overall mean 195.44" in numbers[0]
    assert numbers[0].endswith("median orders 3.00: repeat buyers, not dormant one-time buyers")
    assert model["metadata"]["purchase_gap_days"] == pytest.approx(50.7917, abs=1e-4)
    # The seed defines the model's segments: here the five names of the original guide.
    expected = {s.segment_id: (s.description, s.action) for s in CATALOGUE}
    assert published == {s: expected[s] for s in ORIGINAL_IDS}
    assert all(action for _, action in published.values())
    summary = {s.segment_id: (s.meaning, s.action) for s in real_run.result.segments}
    assert summary == {s: expected[s] for s in ORIGINAL_IDS}
    guide = segment_guide(real_run.result.segments)
    assert guide[1:3] == [
        f"   0  Big Spenders: {CATALOGUE[0].description}",
        f"      Action: {CATALOGUE[0].action}",
    ]
    assert len(guide) == 1 + 2 * len(ORIGINAL_IDS)


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
        # Identical but for the run id (custseg.run_identity; README "Datasets and runs").
        assert comparable(a) == comparable(b), a.name


def test_the_original_guide_dbt_commands_work_from_dbt_pipeline(
    real_run: RealRun, tmp_path: Path
) -> None:
    # On a copy of the run's project and warehouse: the session's run stays as others read it.
    invocation = scratch_copy(real_run, tmp_path)
    project_dir = invocation.project_dir
    assert invocation.env is not None
    env = {**os.environ, **invocation.env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
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
    assert scratch_rows(invocation, "select count(*) from fct_customer_segments") == [(1468,)]


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


def test_the_models_the_ml_step_reads_hold_a_contract(real_run: RealRun, tmp_path: Path) -> None:
    manifest = json.loads(
        (real_run.project_root / "dbt_pipeline" / "target" / "manifest.json").read_text()
    )
    for name in ("customer_features", "customer_segment_scores"):
        node = manifest["nodes"][f"model.custseg.{name}"]
        assert node["config"]["contract"]["enforced"], name
        assert all(column["data_type"] for column in node["columns"].values()), name
    features = manifest["nodes"]["model.custseg.customer_features"]["columns"]
    assert {"customer_id", "as_of_date", *FEATURES} <= set(features)
    assert features["count_orders"]["data_type"] == "bigint"
    assert features["customer_id"]["data_type"] == "text"

    # A feature that changes type in the SQL: dbt refuses to build the model, and the table the
    # ML step reads keeps its last good rows.
    invocation = scratch_copy(real_run, tmp_path)
    retype_count_orders(invocation)
    with pytest.raises(DbtError, match="model.custseg.customer_features"):
        run_dbt(invocation, "run", "--select", "customer_features")
    run_results = json.loads((invocation.project_dir / "target" / "run_results.json").read_text())
    (message,) = [result["message"] for result in run_results["results"]]
    assert "This model has an enforced contract that failed" in message
    assert "| count_orders | DOUBLE          | BIGINT        | data type mismatch |" in message
    assert scratch_rows(invocation, "select count(*) from customer_features") == [(1468,)]


def retype_count_orders(invocation: DbtInvocation) -> None:
    """Make ``count_orders`` a double in the scratch project: customer_features' contract (a
    bigint) then fails. The features are computed by the macro customer_features shares with
    the backfill's model."""
    sql = invocation.project_dir / "macros" / "customer_features.sql"
    retyped = sql.read_text().replace(
        "cast(per_customer.count_orders as {{ dbt.type_bigint() }}) as count_orders",
        "cast(per_customer.count_orders as {{ type_amount() }}) as count_orders",
    )
    assert retyped != sql.read_text()
    sql.write_text(retyped)


def test_a_manifest_parsed_once_reads_the_seed_and_environment_of_each_invocation(
    real_run: RealRun, tmp_path: Path
) -> None:
    # custseg run parses once, then replaces the seeds and changes the history's and the
    # segment source's environment variables before its second build on the same manifest.
    invocation = scratch_copy(real_run, tmp_path)
    manifest = parse_project(invocation)
    seed = published_seed_paths(invocation.project_dir)["customer_segments"]
    lines = seed.read_text().splitlines()
    seed.write_text("\n".join(lines[:101]) + "\n")
    run_dbt(invocation, "seed", "--select", "customer_segments", manifest=manifest)
    run_dbt(invocation, "run", "--select", "fct_customer_segments", manifest=manifest)
    count = "select count(*) from fct_customer_segments"
    assert scratch_rows(invocation, count) == [(100,)]

    assert invocation.env is not None
    scored = replace(invocation, env={**invocation.env, "CUSTSEG_SEGMENT_SOURCE": "warehouse"})
    run_dbt(scored, "run", "--select", "fct_customer_segments", manifest=manifest)
    assert scratch_rows(invocation, count) == [(1468,)]


def test_a_build_told_to_write_no_artifacts_writes_them_when_it_fails(
    real_run: RealRun, tmp_path: Path
) -> None:
    # custseg run's features build writes none: target/ holds its publication's build's.
    target = real_run.project_root / "dbt_pipeline" / "target"
    built = {
        result["unique_id"]
        for result in json.loads((target / "run_results.json").read_text())["results"]
    }
    assert "model.custseg.fct_customer_segments" in built
    assert "model.custseg.customer_features" not in built

    invocation = scratch_copy(real_run, tmp_path)
    retype_count_orders(invocation)
    manifest = parse_project(invocation)
    scratch_target = invocation.project_dir / "target"
    run_dbt(invocation, "run", "--select", "dim_customer", manifest=manifest, artifacts=False)
    assert not (scratch_target / "run_results.json").exists()
    assert not (scratch_target / "manifest.json").exists()

    with pytest.raises(DbtError, match="model.custseg.customer_features"):
        run_dbt(
            invocation, "run", "--select", "customer_features", manifest=manifest, artifacts=False
        )
    run_results = json.loads((scratch_target / "run_results.json").read_text())
    (message,) = [result["message"] for result in run_results["results"]]
    assert "This model has an enforced contract that failed" in message
    written = json.loads((scratch_target / "manifest.json").read_text())
    assert "model.custseg.customer_features" in written["nodes"]


def failing_test_message(invocation: DbtInvocation, select: str, test_prefix: str) -> str:
    """What the DbtError of building ``select`` says about the one failing test whose unique id
    starts with ``test_prefix``."""
    with pytest.raises(DbtError) as caught:
        run_dbt(invocation, "build", "--select", select)
    [line] = [
        line.strip()
        for line in str(caught.value).splitlines()
        if line.strip().startswith(test_prefix)
    ]
    return line.split(": ", 1)[1]


def test_a_null_names_its_model_and_column_though_one_test_checks_all_columns(
    real_run: RealRun, tmp_path: Path
) -> None:
    """One not_null_columns test per model (tests/generic/): the message still names the
    column that holds nulls, and how many, so the user knows what to fix."""
    invocation = scratch_copy(real_run, tmp_path)
    seed = published_seed_paths(invocation.project_dir)["customer_segments"]
    lines = seed.read_text().splitlines()
    for number in (1, 2):
        customer, segment_id, _ = lines[number].split(",", 2)
        lines[number] = f"{customer},{segment_id},"
    seed.write_text("\n".join(lines) + "\n")
    failure = failing_test_message(
        invocation, "customer_segments", "test.custseg.not_null_columns_customer_segments"
    )
    assert failure == (
        "customer_segments.segment_name: 2 rows null; Got 1 result, configured to fail if != 0"
    )
    # dbt show read the rows without writing artifacts: run_results.json is the build's.
    run_results = json.loads((invocation.project_dir / "target" / "run_results.json").read_text())
    assert {result["status"] for result in run_results["results"]} == {"success", "pass", "fail"}


def test_values_out_of_range_name_their_model_and_column_though_one_test_checks_all(
    real_run: RealRun, tmp_path: Path
) -> None:
    """One accepted_ranges test per model (tests/generic/): the message names each column
    out of its range, the rule it breaks and how many rows do."""
    invocation = scratch_copy(real_run, tmp_path)
    seed = published_seed_paths(invocation.project_dir)["segment_definitions"]
    with seed.open(newline="") as file:
        rows = list(csv.DictReader(file))
    rows[0]["count_customers"] = "0"
    rows[1]["customer_share"] = "1.5"
    with seed.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    failure = failing_test_message(
        invocation, "segment_definitions", "test.custseg.accepted_ranges_segment_definitions"
    )
    assert failure == (
        "segment_definitions.count_customers: 1 row below 1; "
        "segment_definitions.customer_share: 1 row below 0 or above 1; "
        "Got 2 results, configured to fail if != 0"
    )


def test_multi_column_tests_count_each_broken_rule_and_nothing_on_an_empty_seed(
    real_run: RealRun, tmp_path: Path
) -> None:
    """The rows not_null_columns and accepted_ranges return, on DuckDB (its accepted_ranges
    reads the model once per column, see tests/generic/accepted_ranges.sql; the macro is also
    called reading it once); the other engines' suites check the same rows."""
    invocation = scratch_copy(real_run, tmp_path)
    # A run does not build the backfill's seed (header-only outside a backfill): dbt build does.
    run_dbt(invocation, "seed", "--select", "backfill_model_parameters")
    assert_multi_column_tests_count_each_column(invocation)


def test_segment_ids_and_names_are_tested_against_segment_definitions(
    real_run: RealRun, tmp_path: Path
) -> None:
    invocation = scratch_copy(real_run, tmp_path)
    seed = published_seed_paths(invocation.project_dir)["customer_segments"]
    lines = seed.read_text().splitlines()
    # Published as they are, the seeds pass every test that reads segment_definitions.
    results = run_dbt(invocation, "build", "--select", "customer_segments")
    combination = "test.custseg.relationships_combination_customer_segments_segment_id"
    assert [r.status for r in results if r.unique_id.startswith(combination)] == ["pass"]

    # An id with another segment's name, and an id segment_definitions does not hold.
    first_id, first_name = lines[1].split(",", 2)[1:]
    other_name = next(name for name in SEGMENT_NAMES.values() if name != first_name)
    customer = lines[1].split(",", 1)[0]
    lines[1] = f"{customer},{first_id},{other_name}"
    customer = lines[2].split(",", 1)[0]
    lines[2] = f"{customer},7,{SEGMENT_NAMES[0]}"
    seed.write_text("\n".join(lines) + "\n")
    with pytest.raises(DbtError) as caught:
        run_dbt(invocation, "build", "--select", "customer_segments")
    failed = {}
    for line in str(caught.value).splitlines():
        if line.strip().startswith("test.custseg."):
            unique_id, detail = line.strip().split(": ", 1)
            failed[unique_id.split(".")[2]] = detail.split(",")[0]
    # The swapped name breaks the combination; the id 7 breaks the combination, the id and SQL
    # scoring's agreement with the seed.
    assert failed == {
        f"{combination.split('.')[2]}__segment_name__ref_segment_definitions_": "Got 2 results",
        "relationships_customer_segments_segment_id__segment_id__ref_segment_definitions_": (
            "Got 1 result"
        ),
        "assert_warehouse_scores_match_published_segments": "Got 1 result",
    }


def test_the_win_back_list_takes_its_segments_by_id_and_the_top_revenue_quartile(
    real_run: RealRun, tmp_path: Path
) -> None:
    invocation = scratch_copy(real_run, tmp_path)
    run_dbt(invocation, "compile", "--select", "high_value_at_risk_targets")
    compiled = invocation.project_dir / "target" / "compiled" / "custseg" / "analyses"
    rows = scratch_rows(invocation, (compiled / "high_value_at_risk_targets.sql").read_text())
    assert rows
    # segment_id, segment_name, ..., lifetime_revenue (6th), ..., activity_status (last)
    assert {(row[1], row[2]) for row in rows} <= {(1, SEGMENT_NAMES[1]), (0, SEGMENT_NAMES[0])}
    assert [row[6] for row in rows] == sorted((row[6] for row in rows), reverse=True)
    # High value is relative to the data: the top quartile of all customers by revenue, counted
    # here in Python (a customer is in it when at least 75% of the others earned less).
    everyone = mart(
        real_run,
        "select customer_id, segment_id, lifetime_revenue, activity_status "
        "from fct_customer_segments",
    )
    revenues = sorted(row[2] for row in everyone)
    expected = {
        customer_id
        for customer_id, segment_id, revenue, status in everyone
        if segment_id in (1, 0)
        and status != "Active"
        and bisect.bisect_left(revenues, revenue) / (len(revenues) - 1) >= 0.75
    }
    assert {row[0] for row in rows} == expected
    assert min(row[6] for row in rows) >= revenues[int(0.75 * (len(revenues) - 1))]

    # The share is a share: the old absolute amount (1000) is refused with what to give.
    absolute = DbtInvocation(
        invocation.project_dir,
        invocation.target,
        env=invocation.env,
        vars={"target_revenue_top_share": 1000},
    )
    with pytest.raises(DbtError, match="top quartile"):
        run_dbt(absolute, "compile", "--select", "high_value_at_risk_targets")

    # The var names ids: a list of names, as the var used to hold, is refused with the reason.
    named = DbtInvocation(
        invocation.project_dir,
        invocation.target,
        env=invocation.env,
        vars={"target_segment_ids": [SEGMENT_NAMES[1]]},
    )
    with pytest.raises(DbtError, match="must hold whole numbers"):
        run_dbt(named, "compile", "--select", "high_value_at_risk_targets")
