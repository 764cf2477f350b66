"""`custseg backfill`: past as-of dates in one pass, scored or retrained, added to the history.

The real-data tests go on from a copy of the session's real-data run (tests/conftest.py) with
the issue's backfill: the month starts from 2019-02-01 to 2020-01-01. The retrain tests go on
from a copy of the published generated sample.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import custseg.history.backfill
from custseg.cli import cli
from custseg.errors import ConfigError, PublishError
from custseg.history.backfill import BackfillResult, backfill_dates
from custseg.model.model_file import load_model
from custseg.pipeline import RunResult, backfill_pipeline
from custseg.settings import resolve_settings
from tests.support import PublishedSample, copy_project_state, real_data_dir

MONTH_STARTS = [dt.date(2019, month, 1) for month in range(2, 13)] + [dt.date(2020, 1, 1)]


@dataclasses.dataclass(frozen=True)
class RealBackfill:
    root: Path
    database: Path
    result: BackfillResult


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def real_backfill(duckdb_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> RealBackfill:
    assert duckdb_run.duckdb_path is not None
    root = copy_project_state(
        duckdb_run.duckdb_path.parents[1], tmp_path_factory.mktemp("backfill") / "project"
    )
    settings = resolve_settings(project_dir=root)
    dates = backfill_dates(dt.date(2019, 2, 1), dt.date(2020, 1, 1), "month")
    result = backfill_pipeline(settings, dates)
    assert settings.duckdb_path is not None
    return RealBackfill(root=root, database=settings.duckdb_path, result=result)


# ------------------------------------------------------------------------------ the dates


def test_monthly_dates_keep_the_day_and_clamp_to_short_months() -> None:
    assert backfill_dates(dt.date(2019, 2, 1), dt.date(2020, 1, 1), "month") == MONTH_STARTS
    assert backfill_dates(dt.date(2019, 1, 31), dt.date(2019, 4, 30), "month") == [
        dt.date(2019, 1, 31),
        dt.date(2019, 2, 28),
        dt.date(2019, 3, 31),
        dt.date(2019, 4, 30),
    ]


def test_weekly_dates_step_seven_days_and_stop_at_the_end() -> None:
    assert backfill_dates(dt.date(2019, 12, 1), dt.date(2019, 12, 21), "week") == [
        dt.date(2019, 12, 1),
        dt.date(2019, 12, 8),
        dt.date(2019, 12, 15),
    ]


@pytest.mark.parametrize(
    ("start", "end", "every", "message"),
    [
        (dt.date(2020, 1, 1), dt.date(2019, 1, 1), "month", "before --from"),
        (dt.date(2019, 1, 1), dt.date(2020, 1, 1), "day", "'month' or 'week'"),
        (dt.date(1990, 1, 1), dt.date(2020, 1, 1), "week", "more than 520"),
    ],
)
def test_bad_ranges_are_config_errors_saying_what_to_do(
    start: dt.date, end: dt.date, every: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        backfill_dates(start, end, every)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ real data


def test_twelve_month_starts_give_twelve_memberships_of_the_customers_who_had_ordered(
    real_backfill: RealBackfill,
) -> None:
    """Each date holds exactly the customers with an order before it (counted from the file)."""
    with duckdb.connect() as con:
        expected = dict(
            con.execute(
                "select d, count(distinct CustomerID) from read_csv(?, header=true, "
                "all_varchar=true) as sales cross join unnest(?::date[]) as t(d) "
                "where strptime(Transaction_Date, '%m/%d/%Y')::date < d group by d",
                [str(real_data_dir() / "Online_Sales.csv"), MONTH_STARTS],
            ).fetchall()
        )
    counted = dict(
        rows(
            real_backfill.database,
            "select as_of_date, count(*) from segment_memberships group by as_of_date",
        )
    )
    assert counted == expected
    assert len(counted) == 12
    runs = rows(
        real_backfill.database,
        "select as_of_date, run_id, count_customers, retrained from segment_runs",
    )
    assert {(day, run_id, count) for day, run_id, count, _ in runs} == {
        (day, real_backfill.result.run_id, expected[day]) for day in MONTH_STARTS
    }
    assert not any(retrained for *_, retrained in runs)


def test_eleven_transition_matrices_whose_rows_sum_to_one(real_backfill: RealBackfill) -> None:
    pairs = rows(
        real_backfill.database,
        "select from_as_of_date, to_as_of_date, from_segment_id, sum(probability), "
        "sum(count_customers) from fct_segment_transitions where transition_kind = 'period' "
        "group by all order by 1, 3",
    )
    assert sorted({(start, end) for start, end, *_ in pairs}) == list(
        zip(MONTH_STARTS, MONTH_STARTS[1:], strict=False)
    )
    assert all(total == pytest.approx(1.0, abs=1e-9) for *_, total, _ in pairs)
    # Every customer of a later date came from a segment or from 'not yet a customer'.
    into = dict(
        rows(
            real_backfill.database,
            "select to_as_of_date, sum(count_customers) from fct_segment_transitions "
            "where transition_kind = 'period' and to_segment_id >= 0 group by 1",
        )
    )
    members = dict(
        rows(
            real_backfill.database,
            "select as_of_date, count(*) from segment_memberships group by 1",
        )
    )
    assert into == {day: members[day] for day in MONTH_STARTS[1:]}
    pooled = rows(
        real_backfill.database,
        "select from_segment_id, sum(probability) from fct_segment_transitions "
        "where transition_kind = 'pooled' group by 1",
    )
    assert pooled and all(total == pytest.approx(1.0, abs=1e-9) for _, total in pooled)


def test_the_last_date_scored_with_the_published_model_equals_the_published_segments(
    real_backfill: RealBackfill,
) -> None:
    """2020-01-01 is the run's own as-of date: the published model scores the same features in
    SQL, so every customer keeps the segment the run published."""
    seed = real_backfill.root / "dbt_pipeline" / "seeds" / "published" / "customer_segments.csv"
    with open(seed, newline="", encoding="utf-8") as handle:
        published = {row["customer_id"]: int(row["segment_id"]) for row in csv.DictReader(handle)}
    history = dict(
        rows(
            real_backfill.database,
            "select customer_id, segment_id from segment_memberships "
            "where as_of_date = date '2020-01-01'",
        )
    )
    assert history == published
    _, document = load_model(real_backfill.root / "ml_pipeline" / "models" / "segment_model.json")
    versions = rows(real_backfill.database, "select distinct model_version from segment_runs")
    assert versions == [(document["integrity"]["sha256"],)]


def test_features_by_date_equal_customer_features_at_the_runs_as_of_date(
    real_backfill: RealBackfill,
) -> None:
    """One definition of the features: the backfill's pass and the run's model agree on every
    column for every customer."""
    columns = (
        "customer_id, first_order_date, last_order_date, recency_days, lifetime_days, "
        "count_orders, count_purchase_days, count_sales_lines, total_quantity, "
        "lifetime_revenue, avg_order_value, tenure_months"
    )
    by_date = rows(
        real_backfill.database,
        f"select {columns} from customer_features_by_as_of_date "
        "where as_of_date = date '2020-01-01' order by customer_id",
    )
    run = rows(
        real_backfill.database, f"select {columns} from customer_features order by customer_id"
    )
    assert len(run) == 1468
    assert by_date == run


def test_a_date_after_the_warehouses_as_of_date_is_refused(real_backfill: RealBackfill) -> None:
    with pytest.raises(ConfigError, match="after the warehouse's as-of date 2020-01-01"):
        backfill_pipeline(resolve_settings(project_dir=real_backfill.root), [dt.date(2020, 2, 1)])


# ------------------------------------------------------------------------------ the sample


@pytest.fixture()
def sample_project(published_sample: PublishedSample, tmp_path: Path) -> Path:
    return copy_project_state(published_sample.root, tmp_path / "project")


def test_retrained_dates_keep_their_models_and_replace_rows_when_backfilled_again(
    sample_project: Path,
) -> None:
    settings = resolve_settings(project_dir=sample_project)
    dates = [dt.date(2019, 10, 1), dt.date(2019, 12, 1)]
    first = backfill_pipeline(settings, dates, retrain=True)
    assert [item.record.as_of_date for item in first.dates] == dates
    for item, path in zip(first.dates, first.model_paths, strict=True):
        _, document = load_model(path)
        assert document["integrity"]["sha256"] == item.record.model_version
        assert document["metadata"]["as_of_date"] == item.record.as_of_date.isoformat()
    assert settings.duckdb_path is not None
    before = rows(
        settings.duckdb_path,
        "select as_of_date, segment_id, count(*) from segment_memberships "
        "group by all order by 1, 2",
    )
    again = backfill_pipeline(settings, dates, retrain=True)
    after = rows(
        settings.duckdb_path,
        "select as_of_date, segment_id, count(*) from segment_memberships "
        "group by all order by 1, 2",
    )
    assert after == before
    assert rows(
        settings.duckdb_path,
        "select distinct run_id from segment_runs where as_of_date < date '2020-01-01'",
    ) == [(again.run_id,)]


def test_a_failed_backfill_leaves_the_history_as_it_was(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = resolve_settings(project_dir=sample_project)
    assert settings.duckdb_path is not None
    query = "select as_of_date, run_id, count(*) from segment_memberships group by all order by 1"
    before = rows(settings.duckdb_path, query)

    def disagree(*_: object) -> None:
        raise PublishError("SQL and Python disagree (planted by the test)")

    monkeypatch.setattr(custseg.history.backfill, "_check_history_counts", disagree)
    with pytest.raises(PublishError, match="planted by the test"):
        backfill_pipeline(settings, [dt.date(2019, 11, 1)])
    assert rows(settings.duckdb_path, query) == before
    seed = sample_project / "dbt_pipeline" / "seeds" / "published" / "backfill_model_parameters.csv"
    assert seed.read_text().count("\n") == 1


def test_the_cli_prints_each_date_and_json_for_scripts(sample_project: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "backfill",
            "--from",
            "2019-11-01",
            "--to",
            "2019-12-31",
            "--every",
            "month",
            "--project-dir",
            str(sample_project),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [item["as_of_date"] for item in payload["dates"]] == ["2019-11-01", "2019-12-01"]
    assert all(
        sum(item["segment_counts"].values()) == item["count_customers"] for item in payload["dates"]
    )
    refused = CliRunner().invoke(
        cli,
        [
            "backfill",
            "--from",
            "2019-11-01",
            "--to",
            "2019-01-01",
            "--project-dir",
            str(sample_project),
        ],
    )
    assert refused.exit_code == 2
    assert "before --from" in refused.output
