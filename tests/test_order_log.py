"""A plain order log is enough: customer id, date and amount, nothing else.

A public-style transaction log (like CDNOW's: customer id, YYYYMMDD date, quantity and the
line's dollar amount, separated by runs of spaces) is generated here for 20,000 customers and
run through the real command line with a ``custseg.toml`` mapping only ``[inputs.sales]``, on a
real DuckDB file. Recency, orders and revenue are then computed again from the generated rows
with plain Python, and every customer's published segment is checked against the nearest
centroid of the published JSON model, computed with numpy from those independent values.

Smaller runs cover a semicolon CSV with ISO timestamps, quantity and price (no amount), and an
orders-only Parquet file with typed ids, dates and amounts.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from custseg.cli import cli
from custseg.ingest.date_formats import parsed_date_sql
from tests.support import CLEAN_ENV, copy_project

FIRST_DAY = dt.date(1997, 1, 1)
#: (share of customers, mean orders beyond the first, first and last day of their orders,
#: median price of a unit): loyal, lapsed, big spenders, newcomers.
_GROUPS = (
    (0.35, 5.0, 0, 540, 15.0),
    (0.30, 0.6, 0, 200, 12.0),
    (0.15, 1.5, 0, 540, 90.0),
    (0.20, 0.3, 450, 540, 20.0),
)


def order_log(n_customers: int, seed: int) -> list[tuple[str, dt.date, int, Decimal]]:
    """Lines (customer id, date, quantity, amount = the line's total), sorted by customer and
    date, with no two lines alike."""
    rng = np.random.default_rng(seed)
    shares = np.array([g[0] for g in _GROUPS])
    group = rng.choice(len(_GROUPS), n_customers, p=shares / shares.sum())
    extra = rng.poisson(np.array([g[1] for g in _GROUPS])[group])
    customer = np.repeat(np.arange(n_customers), 1 + extra)
    g = group[customer]
    start = np.array([g_[2] for g_ in _GROUPS])[g]
    end = np.array([g_[3] for g_ in _GROUPS])[g]
    day = start + (rng.random(customer.size) * (end - start)).astype(int)
    quantity = rng.integers(1, 5, customer.size)
    unit_cents = np.round(
        np.array([g_[4] for g_ in _GROUPS])[g] * 100 * rng.lognormal(0, 0.4, customer.size)
    ).astype(np.int64)
    cents = np.maximum(unit_cents, 1) * quantity
    keys = np.unique(np.stack([customer, day, quantity, cents], axis=1), axis=0)
    return [
        (f"{c + 1:05d}", FIRST_DAY + dt.timedelta(days=int(d)), int(q), Decimal(int(v)) / 100)
        for c, d, q, v in keys
    ]


def write_order_log(folder: Path, lines) -> Path:
    """A comma-separated order log of ``lines`` with YYYYMMDD dates and its custseg.toml (only
    ``[inputs.sales]``), for the runs on other engines; returns the config file."""
    data = folder / "data"
    data.mkdir(parents=True)
    text = "Customer,Day,Dollars\n" + "".join(f"{c},{d:%Y%m%d},{a}\n" for c, d, _, a in lines)
    (data / "orders.csv").write_text(text)
    config = folder / "custseg.toml"
    config.write_text(
        '[run]\ndata_dir = "data"\nk = 3\n\n[inputs.sales]\nfile = "orders.csv"\n'
        'date_format = "YYYYMMDD"\n\n[inputs.sales.columns]\ncustomerid = "customer"\n'
        'transaction_date = "day"\namount = "dollars"\n'
    )
    return config


def run(config: Path, project: Path, *extra: str) -> Result:
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--project-dir", str(project), "--json", *extra],
        env=CLEAN_ENV,
    )
    assert result.exit_code == 0, result.output
    return result


def rfm(lines, as_of: dt.date) -> dict[str, tuple[int, int, Decimal]]:
    """Customer id -> (recency in days, orders, revenue), one line being one order."""
    last: dict[str, dt.date] = {}
    orders: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    for customer, day, _, amount in lines:
        if day >= as_of:
            continue
        last[customer] = max(last.get(customer, day), day)
        orders[customer] = orders.get(customer, 0) + 1
        revenue[customer] = revenue.get(customer, Decimal(0)) + amount
    return {c: ((as_of - last[c]).days, orders[c], revenue[c]) for c in last}


def nearest_centroids(model: dict, values: np.ndarray) -> np.ndarray:
    """Segment id of each row of (recency, orders, revenue, order value) in the model's space."""
    assert model["cluster_features"] == ["recency_days", "count_orders", "avg_order_value"]
    assert model["transforms"] == {
        "recency_days": "identity",
        "count_orders": "log1p",
        "avg_order_value": "log1p",
    }
    x = np.column_stack([values[:, 0], np.log1p(values[:, 1]), np.log1p(values[:, 3])])
    scaled = (x - np.array(model["scaler"]["mean"])) / np.array(model["scaler"]["scale"])
    centroids = np.array([s["centroid_scaled"] for s in model["segments"]])
    ids = np.array([s["segment_id"] for s in model["segments"]])
    distances = ((scaled[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return ids[distances.argmin(axis=1)]


def test_a_whitespace_order_log_of_20000_customers_is_segmented_as_computed_by_hand(
    tmp_path: Path,
) -> None:
    lines = order_log(20_000, seed=12)
    data = tmp_path / "data"
    data.mkdir()
    text = "customer   date      quantity  dollars\n" + "".join(
        f"{c}  {d:%Y%m%d}  {q:>3}  {a:>9}\n" for c, d, q, a in lines
    )
    (data / "CDNOW_style.txt").write_text(text)
    config = tmp_path / "custseg.toml"
    config.write_text(
        '[run]\ndata_dir = "data"\n\n'
        '[inputs.sales]\nfile = "CDNOW_style.txt"\ndelimiter = "whitespace"\n'
        'date_format = "YYYYMMDD"\n\n'
        '[inputs.sales.columns]\ncustomerid = "customer"\ntransaction_date = "date"\n'
        'amount = "dollars"\n'
    )
    project = copy_project(tmp_path / "project")

    summary = json.loads(run(config, project, "--allow-unsupported-names").stdout)

    as_of = max(day for _, day, _, _ in lines) + dt.timedelta(days=1)
    assert summary["as_of_date"] == as_of.isoformat()
    expected = rfm(lines, as_of)
    assert any("each line is one order" in note for note in summary["repairs"])
    assert any("CustomersData: not given" in note for note in summary["repairs"])
    sources = {table["table"]: table["source"] for table in summary["loaded_tables"]}
    assert sources["customers_data"] is None
    assert sources["online_sales"] == str(tmp_path / "data" / "CDNOW_style.txt")
    warehouse = project / "dbt_pipeline" / "custseg.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        features = con.execute(
            "select customer_id, recency_days, count_orders, lifetime_revenue, avg_order_value "
            "from customer_features order by customer_id"
        ).fetchall()
        exact = dict(
            con.execute(
                "select customer_id, sum(order_revenue) from int_sales_lines_aggregated_to_orders "
                "group by customer_id"
            ).fetchall()
        )
        mart = con.execute(
            "select customer_id, segment_id, gender, location, tenure_months, recency_days, "
            "count_orders from fct_customer_segments order by customer_id"
        ).fetchall()
    assert [row[0] for row in features] == sorted(expected)
    for customer, recency, orders, revenue, _ in features:
        assert (recency, orders) == expected[customer][:2], customer
        assert exact[customer] == expected[customer][2], customer
        assert revenue == pytest.approx(float(expected[customer][2]), rel=1e-12, abs=0)
    # No customer file: every customer is in the mart, without demographics.
    assert len(mart) == len(expected)
    assert {row[2:5] for row in mart} == {(None, None, None)}

    # Every published segment is the nearest centroid of the published model, computed from
    # the independent values.
    model = json.loads((project / "ml_pipeline/models/segment_model.json").read_text())["model"]
    customers = sorted(expected)
    values = np.array(
        [
            [
                expected[c][0],
                expected[c][1],
                float(expected[c][2]),
                float(expected[c][2]) / expected[c][1],
            ]
            for c in customers
        ]
    )
    with open(project / "ml_pipeline/models/customer_segments.csv", newline="") as handle:
        published = {row["customer_id"]: int(row["segment_id"]) for row in csv.DictReader(handle)}
    assert sorted(published) == customers
    assert nearest_centroids(model, values).tolist() == [published[c] for c in customers]
    assert {row[0]: row[1] for row in mart} == published
    # The report leaves out the demographic panels the order log cannot fill.
    report = (project / "ml_pipeline/models/segment_report.html").read_text()
    assert "The data has no gender or location for any customer" in report
    assert 'id="chart-mix-gender"' not in report and 'id="chart-mix-location"' not in report
    assert 'id="chart-mix-activity-status"' in report


def test_a_semicolon_csv_with_timestamps_quantity_and_price_is_enough(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = tmp_path / "data"
    data.mkdir()
    rows = ["Client;Ordered at;Units;Unit price"]
    expected: dict[str, Decimal] = {}
    for i in range(600):
        customer = f"C-{i % 150:03d}"
        day = dt.datetime(2023, 1, 1, 9, 30) + dt.timedelta(days=int(rng.integers(0, 300)))
        units, cents = int(rng.integers(1, 4)), int(rng.integers(100, 20000))
        rows.append(f"{customer};{day:%Y-%m-%dT%H:%M:%S};{units};{cents / 100:.2f}")
        expected[customer] = expected.get(customer, Decimal(0)) + units * Decimal(cents) / 100
    (data / "orders.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "custseg.toml"
    config.write_text(
        '[run]\ndata_dir = "data"\nk = 3\n\n'
        '[inputs.sales]\nfile = "orders.csv"\ndelimiter = ";"\ndate_format = "ISO"\n\n'
        '[inputs.sales.columns]\ncustomerid = "client"\ntransaction_date = "ordered at"\n'
        'quantity = "units"\navg_price = "unit price"\n'
    )
    project = copy_project(tmp_path / "project")

    run(config, project, "--allow-unsupported-names")

    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        revenue = dict(
            con.execute(
                "select customer_id, sum(order_revenue) from int_sales_lines_aggregated_to_orders "
                "group by customer_id"
            ).fetchall()
        )
        (orders,) = con.execute(
            "select count(*) from int_sales_lines_aggregated_to_orders"
        ).fetchone()
    assert revenue == expected
    # No transaction ids: each of the 600 lines is one order.
    assert orders == 600


def test_an_orders_only_parquet_file_with_typed_columns(tmp_path: Path) -> None:
    lines = order_log(400, seed=3)
    data = tmp_path / "data"
    data.mkdir()
    table = pa.table(
        {
            "customer_id": pa.array([int(c) for c, _, _, _ in lines], pa.int64()),
            "order_date": pa.array([d for _, d, _, _ in lines], pa.date32()),
            "order_total": pa.array([float(a) for _, _, _, a in lines], pa.float64()),
        }
    )
    pq.write_table(table, data / "Online_Sales.parquet")
    config = tmp_path / "custseg.toml"
    config.write_text(
        '[run]\ndata_dir = "data"\nk = 3\n\n[inputs.sales.columns]\n'
        'customerid = "customer_id"\ntransaction_date = "order_date"\namount = "order_total"\n'
    )
    project = copy_project(tmp_path / "project")

    run(config, project, "--allow-unsupported-names")

    as_of = max(day for _, day, _, _ in lines) + dt.timedelta(days=1)
    expected = rfm(lines, as_of)
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        rows = con.execute(
            "select customer_id, recency_days, count_orders, lifetime_revenue "
            "from fct_customer_segments"
        ).fetchall()
    # Integer ids become their decimal text: 00007 is written 7 in a Parquet integer.
    by_text = {str(int(c)): v for c, v in expected.items()}
    assert {r[0]: (r[1], r[2]) for r in rows} == {c: v[:2] for c, v in by_text.items()}
    for customer, _, _, revenue in rows:
        assert revenue == pytest.approx(float(by_text[customer][2]), rel=1e-12)


@pytest.mark.parametrize(
    ("date_format", "written", "day"),
    [
        ("YYYYMMDD", "20190105", dt.date(2019, 1, 5)),
        ("YYYYMMDD", "2019015", None),
        ("YYYYMMDD", "2019-01-05", None),
        ("YYYY-MM-DD", "2019-1-5", dt.date(2019, 1, 5)),
        ("YYYY-MM-DD", "2019-01-05 10:00", None),
        ("ISO", "2019-01-05", dt.date(2019, 1, 5)),
        ("ISO", "2019-01-05T23:59:59.999", dt.date(2019, 1, 5)),
        ("ISO", "2019-01-05 13:45", dt.date(2019, 1, 5)),
        ("ISO", "2019-01-05T13:45:00Z", None),
        ("ISO", "2019-01-05T13:45:00+02:00", None),
        ("ISO", "2019-02-30", None),
        ("%d.%m.%Y %H:%M", "05.01.2019 13:45", dt.date(2019, 1, 5)),
    ],
)
def test_named_date_formats_read_exactly_their_shape(
    date_format: str, written: str, day: dt.date | None
) -> None:
    sql = f"select cast({parsed_date_sql('v', date_format)} as date) from (select ? as v)"
    with duckdb.connect() as con:
        (parsed,) = con.execute(sql, [written]).fetchone()
    assert parsed == day
