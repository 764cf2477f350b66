"""Live features are dbt's features: the Python twin of ``customer_features_as_of`` computes,
from the same orders and as-of date, the same values for every customer of the real dataset,
and the published model scores them into the run's segments.

If the dbt macro or :mod:`custseg.live.features` changes without the other, these tests fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from custseg.live.features import Added, OrderBook, feature_matrix, features_as_of, totals_row
from custseg.live.orders import InvalidOrderError, Order, parse_order
from custseg.live.scoring import LoadedModel, PublishedModel
from custseg.model.features import FEATURES
from custseg.model.model_file import canonical_json
from custseg.model.rhythm import RHYTHM_COLUMNS
from custseg.pipeline import RunResult
from tests.support import duckdb_rows, resealed_model

FEATURE_COLUMNS = (*FEATURES, *RHYTHM_COLUMNS)


def real_orders(run: RunResult) -> list[Order]:
    """Every order of the run's warehouse, revenue as its exact decimal text."""
    rows = duckdb_rows(
        run,
        "select customer_id, order_id, order_date, cast(order_revenue as varchar) "
        "from int_sales_lines_aggregated_to_orders",
    )
    return [
        parse_order({"customer_id": c, "order_id": o, "order_date": d.isoformat(), "revenue": r})
        for c, o, d, r in rows
    ]


@pytest.fixture(scope="module")
def real_book(duckdb_run: RunResult) -> OrderBook:
    book = OrderBook()
    for order in real_orders(duckdb_run):
        assert book.add(order) is Added.NEW
    return book


def test_live_features_equal_dbt_features_for_every_real_customer(
    duckdb_run: RunResult, real_book: OrderBook
) -> None:
    ((as_of,),) = duckdb_rows(duckdb_run, "select min(as_of_date) from customer_features")
    dbt_rows = duckdb_rows(
        duckdb_run,
        f"select customer_id, {', '.join(FEATURE_COLUMNS)} from customer_features "
        "order by customer_id",
    )
    live = {row.customer_id: row for row in real_book.all_features(as_of)}
    assert len(dbt_rows) == 1468
    assert sorted(live) == [row[0] for row in dbt_rows]
    differences = [
        (customer_id, column, expected, getattr(live[customer_id], column))
        for customer_id, *values in dbt_rows
        for column, expected in zip(FEATURE_COLUMNS, values, strict=True)
        if getattr(live[customer_id], column) != expected  # exact, not approximately
    ]
    assert differences == []


def test_live_features_equal_dbt_features_at_an_earlier_as_of_date(
    duckdb_run: RunResult, real_book: OrderBook
) -> None:
    """Orders on or after the as-of date do not count: mid-year, against the backfill's model
    of the same macro computed here in SQL over the run's orders."""
    as_of = dt.date(2019, 7, 1)
    dbt_rows = duckdb_rows(
        duckdb_run,
        "select customer_id, date_diff('day', max(order_date), date '2019-07-01'), count(*), "
        "cast(sum(order_revenue) as double), "
        "cast(sum(order_revenue) as double) / count(*), "
        "date_diff('day', min(order_date), max(order_date)) + 1, count(distinct order_date) "
        "from int_sales_lines_aggregated_to_orders where order_date < date '2019-07-01' "
        "group by customer_id order by customer_id",
    )
    live = {row.customer_id: row for row in real_book.all_features(as_of)}
    assert sorted(live) == [row[0] for row in dbt_rows]
    for customer_id, *values in dbt_rows:
        assert [getattr(live[customer_id], c) for c in FEATURE_COLUMNS] == values, customer_id


def test_the_published_model_scores_live_features_into_the_runs_segments(
    duckdb_run: RunResult, real_book: OrderBook
) -> None:
    model = LoadedModel.from_file(duckdb_run.model_path)
    ((as_of,),) = duckdb_rows(duckdb_run, "select min(as_of_date) from customer_features")
    rows = list(real_book.all_features(as_of))
    ids = model.segment_ids(feature_matrix(rows))
    with open(duckdb_run.segments_path, newline="", encoding="utf-8") as handle:
        published = {
            r["customer_id"]: (int(r["segment_id"]), r["segment_name"])
            for r in csv.DictReader(handle)
        }
    live = {
        row.customer_id: (int(i), model.segment_name(i)) for row, i in zip(rows, ids, strict=True)
    }
    assert live == published
    document = json.loads(duckdb_run.model_path.read_text(encoding="utf-8"))
    assert model.version == document["integrity"]["sha256"]


def test_features_by_hand() -> None:
    day = dt.date(2019, 3, 10)
    orders = [
        (dt.date(2019, 3, 1).toordinal(), Decimal("10.10")),
        (dt.date(2019, 3, 1).toordinal(), Decimal("0.20")),  # same day: one purchase day
        (dt.date(2019, 3, 5).toordinal(), Decimal("5")),
        (day.toordinal(), Decimal("1000")),  # on the as-of date: not counted
    ]
    features = features_as_of("c1", orders, day)
    assert features is not None
    assert (features.recency_days, features.count_orders, features.lifetime_days) == (5, 3, 5)
    assert features.count_purchase_days == 2
    assert features.lifetime_revenue == 15.3
    assert features.avg_order_value == 15.3 / 3
    assert features_as_of("c1", orders[3:], day) is None
    assert totals_row(12, 4, 100.0) == (12.0, 4.0, 100.0, 25.0)


def test_an_order_seen_twice_counts_once_and_a_conflicting_copy_is_refused() -> None:
    book = OrderBook()
    order = parse_order(
        {"customer_id": "c1", "order_id": "o1", "order_date": "2019-01-02", "revenue": "9.99"}
    )
    assert book.add(order) is Added.NEW
    assert book.add(order) is Added.REPEAT
    other = parse_order({**order.to_fields(), "revenue": "10"})
    assert book.add(other) is Added.CONFLICT
    features = book.features("c1", dt.date(2019, 2, 1))
    assert features is not None and features.count_orders == 1
    assert features.lifetime_revenue == 9.99


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"order_id": "o", "order_date": "2019-01-01", "revenue": 1}, "customer_id"),
        (
            {"customer_id": " ", "order_id": "o", "order_date": "2019-01-01", "revenue": 1},
            "customer_id",
        ),
        (
            {"customer_id": "c", "order_id": "o", "order_date": "1/2/2019", "revenue": 1},
            "order_date",
        ),
        (
            {"customer_id": "c", "order_id": "o", "order_date": "2019-02-30", "revenue": 1},
            "order_date",
        ),
        (
            {"customer_id": "c", "order_id": "o", "order_date": "2019-01-01", "revenue": "NaN"},
            "revenue",
        ),
        (
            {
                "customer_id": "c",
                "order_id": "o",
                "order_date": "2019-01-01",
                "revenue": float("inf"),
            },
            "revenue",
        ),
        (
            {"customer_id": "c", "order_id": "o", "order_date": "2019-01-01", "revenue": "-1"},
            "revenue",
        ),
        (
            {"customer_id": "c", "order_id": "o", "order_date": "2019-01-01", "revenue": True},
            "revenue",
        ),
        (
            {"customer_id": "c", "order_id": "x" * 300, "order_date": "2019-01-01", "revenue": 1},
            "order_id",
        ),
    ],
)
def test_a_malformed_order_names_its_field(fields: dict, field: str) -> None:
    with pytest.raises(InvalidOrderError) as caught:
        parse_order(fields)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")


def test_a_published_model_is_reloaded_and_a_broken_one_keeps_the_last(
    duckdb_run: RunResult, tmp_path: Path
) -> None:
    path = tmp_path / "segment_model.json"
    path.write_bytes(duckdb_run.model_path.read_bytes())
    published = PublishedModel(path, check_interval=0.0)
    first = published.current()
    assert published.refresh() is False
    # A new publication: another model (another sha) renamed over the file.
    document = json.loads(path.read_text())
    document["metadata"]["note"] = "retrained"
    staged = tmp_path / "staged.json"
    staged.write_text(canonical_json(resealed_model(document)))
    os.replace(staged, path)
    second = published.current()
    assert second.version != first.version
    # An edited file (integrity broken) is refused; the last good model keeps serving.
    path.write_text(path.read_text().replace("retrained", "edited by hand"))
    assert published.refresh() is False
    assert published.current() is second
    assert published.reload_error is not None and "integrity" in published.reload_error
