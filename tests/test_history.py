"""The warehouse history on DuckDB: what `custseg run` adds to segment_runs and
segment_memberships, and what reruns, failed publications and dbt builds by hand leave there.

One module fixture goes on from the session's published sample (a run at the data's own as-of
date) with two more runs on a copy: one at an earlier as-of date, then the same date again. The
tests compare the history after each run with the files the run published. PostgreSQL, Spark and
Snowflake: tests/test_postgres.py, test_spark.py, test_snowflake.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import PublishError
from custseg.history import HISTORY_SOURCE_ENV, HISTORY_TABLES, RUN_RECORDS_ENV
from custseg.pipeline import RunResult, run_pipeline
from custseg.publish.publication import LAST_GOOD_SUFFIX
from custseg.settings import Settings, resolve_settings
from custseg.warehouses import open_warehouse
from tests.support import PUBLISHED_SAMPLE_DATASET, PublishedSample, copy_project_state

RUNS_SQL = "select * from segment_runs order by as_of_date"
MEMBERSHIPS_SQL = "select * from segment_memberships order by as_of_date, customer_id"
# The features a membership records, as the mart of the run holds them.
MART_SQL = (
    "select as_of_date, customer_id, segment_id, segment_name, recency_days, count_orders, "
    "lifetime_revenue, avg_order_value from fct_customer_segments order by customer_id"
)
FEATURES = (
    "segment_id",
    "segment_name",
    "recency_days",
    "count_orders",
    "lifetime_revenue",
    "avg_order_value",
)


@dataclass(frozen=True)
class History:
    """The rows of both history tables, each as a dict of its columns."""

    runs: list[dict[str, Any]]
    memberships: list[dict[str, Any]]

    def at(self, day: dt.date) -> list[dict[str, Any]]:
        """The memberships of one as-of date."""
        return [row for row in self.memberships if row["as_of_date"] == day]

    def run_at(self, day: dt.date) -> dict[str, Any]:
        """The segment_runs row of one as-of date."""
        (row,) = [row for row in self.runs if row["as_of_date"] == day]
        return row


@dataclass(frozen=True)
class Published:
    """A run, the history right after it, and what it published beside it."""

    result: RunResult
    history: History
    # The model file, the evaluation metrics, and the segments CSV by customer.
    model: dict[str, Any]
    metrics: dict[str, Any]
    segments: dict[str, tuple[int, str]]
    # fct_customer_segments as the run left it (the features of each membership).
    mart: list[dict[str, Any]]


@dataclass(frozen=True)
class HistoryRuns:
    """A project after three runs on the published sample's data (see the module fixture)."""

    settings: Settings
    # The published sample's run at the data's own as-of date.
    first: Published
    # A run at an as-of date 91 days earlier; then the same as-of date again.
    earlier: Published
    rerun: Published


def rows(database: Path, sql: str) -> list[dict[str, Any]]:
    """The rows of ``sql`` in a DuckDB file, as dicts of their columns."""
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def history(settings: Settings) -> History:
    assert settings.duckdb_path is not None
    return History(
        rows(settings.duckdb_path, RUNS_SQL), rows(settings.duckdb_path, MEMBERSHIPS_SQL)
    )


def published(settings: Settings, result: RunResult) -> Published:
    """What ``result``'s run left in the project of ``settings``."""
    layout = settings.layout
    with open(layout.segments_path, newline="", encoding="utf-8") as handle:
        segments = {
            row["customer_id"]: (int(row["segment_id"]), row["segment_name"])
            for row in csv.DictReader(handle)
        }
    assert settings.duckdb_path is not None
    return Published(
        result=result,
        history=history(settings),
        model=json.loads(layout.model_path.read_text(encoding="utf-8")),
        metrics=json.loads(layout.metrics_path.read_text(encoding="utf-8")),
        segments=segments,
        mart=rows(settings.duckdb_path, MART_SQL),
    )


@pytest.fixture(scope="module")
def history_runs(
    published_sample: PublishedSample, tmp_path_factory: pytest.TempPathFactory
) -> HistoryRuns:
    root = copy_project_state(published_sample.root, tmp_path_factory.mktemp("history") / "p")
    settings = resolve_settings(
        data_dir=published_sample.data_dir, project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET
    )
    first = published(settings, published_sample.result)
    earlier_date = published_sample.result.as_of_date - dt.timedelta(days=91)
    at_earlier = resolve_settings(
        data_dir=published_sample.data_dir,
        project_dir=root,
        dataset=PUBLISHED_SAMPLE_DATASET,
        as_of_date=earlier_date.isoformat(),
    )
    earlier = published(at_earlier, run_pipeline(at_earlier))
    rerun = published(at_earlier, run_pipeline(at_earlier))
    return HistoryRuns(settings=settings, first=first, earlier=earlier, rerun=rerun)


def test_a_run_records_its_model_and_every_published_membership(
    history_runs: HistoryRuns,
) -> None:
    first = history_runs.first
    day = first.result.as_of_date
    (run,) = first.history.runs
    assert run == {
        "as_of_date": day,
        "run_id": first.model["metadata"]["run_id"],
        "model_version": first.model["integrity"]["sha256"],
        "dataset": PUBLISHED_SAMPLE_DATASET,
        "count_segments": first.result.n_segments,
        "count_customers": first.result.n_customers,
        "input_fingerprint": first.model["metadata"]["input_fingerprint"],
        "silhouette": pytest.approx(first.metrics["silhouette"]),
        # Measured by --k auto only; the default run keeps k.
        "bootstrap_stability": None,
        "smallest_segment_share": pytest.approx(
            min(count for count in _counts(first.segments).values()) / len(first.segments),
            abs=1e-6,
        ),
        "names_supported": True,
        "retrained": True,
    }
    assert run["run_id"] == first.result.run_id
    memberships = first.history.memberships
    # Customer by customer, the published segments CSV; the features are the mart's.
    assert {
        row["customer_id"]: (row["segment_id"], row["segment_name"]) for row in memberships
    } == (first.segments)
    assert len(memberships) == len(first.segments) == first.result.n_customers
    assert [
        {key: row[key] for key in ("as_of_date", "customer_id", *FEATURES)} for row in memberships
    ] == (first.mart)
    assert {(row["run_id"], row["model_version"]) for row in memberships} == {
        (run["run_id"], run["model_version"])
    }


def _counts(segments: dict[str, tuple[int, str]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for segment_id, _ in segments.values():
        counts[segment_id] = counts.get(segment_id, 0) + 1
    return counts


def test_a_run_at_another_as_of_date_adds_that_date_and_keeps_the_first(
    history_runs: HistoryRuns,
) -> None:
    first, earlier = history_runs.first, history_runs.earlier
    first_day, earlier_day = first.result.as_of_date, earlier.result.as_of_date
    assert earlier_day == first_day - dt.timedelta(days=91)
    assert [run["as_of_date"] for run in earlier.history.runs] == [earlier_day, first_day]
    # The first date's rows are those the first run wrote, to the last column.
    assert earlier.history.run_at(first_day) == first.history.run_at(first_day)
    assert earlier.history.at(first_day) == first.history.memberships
    run = earlier.history.run_at(earlier_day)
    assert (run["run_id"], run["model_version"]) == (
        earlier.result.run_id,
        earlier.model["integrity"]["sha256"],
    )
    new = earlier.history.at(earlier_day)
    assert {row["customer_id"]: (row["segment_id"], row["segment_name"]) for row in new} == (
        earlier.segments
    )
    # Only the customers who had ordered before the earlier date, with their features then.
    assert len(new) == earlier.result.n_customers < first.result.n_customers
    assert {row["run_id"] for row in new} == {earlier.result.run_id}


def test_a_rerun_of_an_as_of_date_replaces_its_rows(history_runs: HistoryRuns) -> None:
    first, earlier, rerun = history_runs.first, history_runs.earlier, history_runs.rerun
    day = earlier.result.as_of_date
    assert rerun.result.as_of_date == day
    assert rerun.result.run_id != earlier.result.run_id
    assert [run["as_of_date"] for run in rerun.history.runs] == [day, first.result.as_of_date]
    run = rerun.history.run_at(day)
    assert (run["run_id"], run["model_version"]) == (
        rerun.result.run_id,
        rerun.model["integrity"]["sha256"],
    )
    replaced = rerun.history.at(day)
    # The same customers once each, now recorded by the rerun; nothing of the first run left.
    assert len(replaced) == len(earlier.history.at(day))
    assert sorted(row["customer_id"] for row in replaced) == sorted(earlier.segments)
    assert {row["run_id"] for row in replaced} == {rerun.result.run_id}
    same_data = [{key: row[key] for key in ("customer_id", *FEATURES)} for row in replaced]
    assert same_data == [
        {key: row[key] for key in ("customer_id", *FEATURES)} for row in earlier.history.at(day)
    ]
    assert rerun.history.at(first.result.as_of_date) == first.history.memberships


def last_published(history_runs: HistoryRuns, root: Path) -> Settings:
    """A copy of the module's project and the settings of its last publication (dbt's vars:
    the as-of date its seeds were published at)."""
    copy_project_state(history_runs.settings.layout.root, root)
    return resolve_settings(
        data_dir=history_runs.settings.data_dir,
        project_dir=root,
        as_of_date=history_runs.rerun.result.as_of_date.isoformat(),
    )


def by_hand(settings: Settings, *args: str) -> None:
    """``dbt build`` with ``args`` as a user runs it: none of custseg's history variables set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (HISTORY_SOURCE_ENV, RUN_RECORDS_ENV):
            patch.delenv(name, raising=False)
        with open_warehouse(settings) as warehouse:
            invocation = invocation_for(settings, warehouse)
            assert not {HISTORY_SOURCE_ENV, RUN_RECORDS_ENV} & set(invocation.env or {})
            results = run_dbt(invocation, "build", *args)
    built = {result.unique_id for result in results}
    assert {f"model.custseg.{table}" for table in HISTORY_TABLES} <= built


def test_a_dbt_build_by_hand_adds_nothing_to_the_history(
    history_runs: HistoryRuns, tmp_path: Path
) -> None:
    settings = last_published(history_runs, tmp_path / "project")
    before = history(settings)
    assert before == history_runs.rerun.history

    by_hand(settings)

    assert history(settings) == before


def test_dbt_build_full_refresh_keeps_every_row_of_the_history(
    history_runs: HistoryRuns, tmp_path: Path
) -> None:
    settings = last_published(history_runs, tmp_path / "project")
    before = history(settings)
    assert len(before.runs) == 2

    by_hand(settings, "--full-refresh")

    assert history(settings) == before


def test_a_failed_publication_leaves_the_history_as_it_was(
    history_runs: HistoryRuns, tmp_path: Path
) -> None:
    """A test of segment_memberships fails once both history tables hold the new date: the
    publication puts both back, so the new date is nowhere and the old rows are untouched."""
    root = copy_project_state(history_runs.settings.layout.root, tmp_path / "project")
    new_day = history_runs.first.result.as_of_date - dt.timedelta(days=30)
    (root / "dbt_pipeline" / "tests" / "assert_history_refuses_the_new_date.sql").write_text(
        f"select * from {{{{ ref('segment_memberships') }}}} where as_of_date = '{new_day}'\n"
    )
    settings = resolve_settings(
        data_dir=history_runs.settings.data_dir,
        project_dir=root,
        dataset=PUBLISHED_SAMPLE_DATASET,
        as_of_date=new_day.isoformat(),
    )
    before = history(settings)

    with pytest.raises(PublishError, match="assert_history_refuses_the_new_date"):
        run_pipeline(settings)

    after = history(settings)
    assert after == before
    assert new_day not in {run["as_of_date"] for run in after.runs}
    assert settings.duckdb_path is not None
    tables = rows(settings.duckdb_path, "select table_name from information_schema.tables")
    assert not [row for row in tables if row["table_name"].endswith(LAST_GOOD_SUFFIX)]
