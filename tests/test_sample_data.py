"""Tests for the synthetic Marketing Insights generator (custseg.sample)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from custseg.sample import (
    ARCHETYPES,
    SampleDataSummary,
    default_lines_per_customer,
    generate_sample_data,
    min_lines_per_customer,
)
from tests.support import PlantedSample

STEMS = ("CustomersData", "Online_Sales", "Discount_Coupon", "Tax_amount", "Marketing_Spend")
HEADERS = {
    "CustomersData": "CustomerID,Gender,Location,Tenure_Months",
    "Online_Sales": (
        "CustomerID,Transaction_ID,Transaction_Date,Product_SKU,Product_Description,"
        "Product_Category,Quantity,Avg_Price,Delivery_Charges,Coupon_Status"
    ),
    "Discount_Coupon": "Month,Product_Category ,Coupon_Code,Discount_pct",
    "Tax_amount": "Product_Category,GST",
    "Marketing_Spend": "Date,Offline_Spend,Online_Spend",
}
DATE_RE = re.compile(r"^([1-9]|1[0-2])/([1-9]|[12][0-9]|3[01])/2019$")
INT_RE = re.compile(r"^[0-9]+$")
AMOUNT_RE = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
NO_COUPON = {"Fun", "Google", "More Bags", "Backpacks"}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _scan(data_dir: Path, stem: str) -> str:
    csv_path = data_dir / f"{stem}.csv"
    if csv_path.exists():
        return f"read_csv('{csv_path}', header = true, dateformat = '%m/%d/%Y')"
    return f"read_parquet('{data_dir / f'{stem}.parquet'}')"


def _files_bytes(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir())}


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_csv")
    generate_sample_data(out, n_customers=1000, seed=42, file_format="csv")
    return out


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_parquet")
    generate_sample_data(out, n_customers=1000, seed=42, file_format="parquet")
    return out


def test_summary_matches_files(tmp_path: Path) -> None:
    summary = generate_sample_data(tmp_path / "nested" / "out", n_customers=150, seed=3)
    assert isinstance(summary, SampleDataSummary)
    assert summary.out_dir == tmp_path / "nested" / "out"
    assert (summary.n_customers, summary.file_format, summary.seed) == (150, "csv", 3)
    sales = _rows(summary.out_dir / "Online_Sales.csv")
    assert summary.n_sales_lines == len(sales)
    assert summary.n_orders == len({(r["CustomerID"], r["Transaction_ID"]) for r in sales})
    assert len(_rows(summary.out_dir / "CustomersData.csv")) == 150


def test_csv_file_names_and_headers(csv_dir: Path) -> None:
    expected = {f"{stem}.csv" for stem in STEMS} | {"planted_segments.csv"}
    assert {p.name for p in csv_dir.iterdir()} == expected
    for stem, header in HEADERS.items():
        raw = (csv_dir / f"{stem}.csv").read_bytes()
        assert raw.split(b"\n", 1)[0].decode() == header, stem
        assert b"\r" not in raw and b'"' not in raw
        assert raw.endswith(b"\n")
    assert (csv_dir / "planted_segments.csv").read_text().split("\n", 1)[0] == (
        "customer_id,archetype"
    )


def test_csv_value_formats(csv_dir: Path) -> None:
    sales = _rows(csv_dir / "Online_Sales.csv")
    assert all(DATE_RE.match(r["Transaction_Date"]) for r in sales)
    assert all(INT_RE.match(r["CustomerID"]) and INT_RE.match(r["Transaction_ID"]) for r in sales)
    assert all(INT_RE.match(r["Quantity"]) and int(r["Quantity"]) >= 1 for r in sales)
    for column in ("Avg_Price", "Delivery_Charges"):
        assert all(AMOUNT_RE.match(r[column]) for r in sales), column
    assert {r["Coupon_Status"] for r in sales} == {"Used", "Not Used", "Clicked"}

    spend = _rows(csv_dir / "Marketing_Spend.csv")
    assert len(spend) == 365
    assert spend[0]["Date"] == "1/1/2019" and spend[-1]["Date"] == "12/31/2019"
    assert all(DATE_RE.match(r["Date"]) for r in spend)
    assert all(AMOUNT_RE.match(r["Offline_Spend"]) for r in spend)
    assert all(AMOUNT_RE.match(r["Online_Spend"]) for r in spend)

    customers = _rows(csv_dir / "CustomersData.csv")
    assert {r["Gender"] for r in customers} == {"M", "F"}
    assert {r["Location"] for r in customers} == {
        "Chicago",
        "California",
        "New York",
        "New Jersey",
        "Washington DC",
    }
    assert all(2 <= int(r["Tenure_Months"]) <= 50 for r in customers)


def test_reference_tables(csv_dir: Path) -> None:
    tax = _rows(csv_dir / "Tax_amount.csv")
    assert len(tax) == 20
    categories = {r["Product_Category"] for r in tax}
    assert all(0 < float(r["GST"]) < 1 for r in tax)

    coupons = _rows(csv_dir / "Discount_Coupon.csv")
    assert len(coupons) == 12 * 16
    coupon_categories = {r["Product_Category "] for r in coupons}
    assert coupon_categories == categories - NO_COUPON
    assert {r["Month"] for r in coupons} == {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    }  # fmt: skip
    assert len({(r["Month"], r["Product_Category "]) for r in coupons}) == len(coupons)
    for r in coupons:
        assert r["Discount_pct"] in {"10", "20", "30"}
        assert r["Coupon_Code"].endswith(r["Discount_pct"])
    apparel = {r["Month"]: r["Coupon_Code"] for r in coupons if r["Product_Category "] == "Apparel"}
    assert (apparel["Jan"], apparel["Feb"], apparel["Mar"]) == ("SALE10", "SALE20", "SALE30")

    sold = {r["Product_Category"] for r in _rows(csv_dir / "Online_Sales.csv")}
    assert sold <= categories


def test_customers_sales_and_planted_segments_agree(csv_dir: Path) -> None:
    customers = [int(r["CustomerID"]) for r in _rows(csv_dir / "CustomersData.csv")]
    assert len(customers) == len(set(customers)) == 1000
    sales = _rows(csv_dir / "Online_Sales.csv")
    assert {int(r["CustomerID"]) for r in sales} == set(customers)

    planted = _rows(csv_dir / "planted_segments.csv")
    assert sorted(int(r["customer_id"]) for r in planted) == sorted(customers)
    assert {r["archetype"] for r in planted} == set(ARCHETYPES)


def test_orders_are_single_dated_and_some_ids_are_shared(csv_dir: Path) -> None:
    sales = _rows(csv_dir / "Online_Sales.csv")
    dates: dict[tuple[str, str], set[str]] = {}
    owners: dict[str, set[str]] = {}
    for r in sales:
        dates.setdefault((r["CustomerID"], r["Transaction_ID"]), set()).add(r["Transaction_Date"])
        owners.setdefault(r["Transaction_ID"], set()).add(r["CustomerID"])
    assert all(len(d) == 1 for d in dates.values())
    shared = sum(1 for o in owners.values() if len(o) > 1)
    assert all(len(o) <= 2 for o in owners.values())
    assert 0.02 <= shared / len(owners) <= 0.10
    lines_per_customer = len(sales) / 1000
    assert 25 <= lines_per_customer <= 45


def test_same_arguments_give_identical_bytes(tmp_path: Path, csv_dir: Path) -> None:
    again = tmp_path / "again"
    generate_sample_data(again, n_customers=1000, seed=42, file_format="csv")
    assert _files_bytes(again) == _files_bytes(csv_dir)


def test_parquet_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generate_sample_data(first, n_customers=200, seed=9, file_format="parquet")
    generate_sample_data(second, n_customers=200, seed=9, file_format="parquet")
    assert _files_bytes(first) == _files_bytes(second)


def test_different_seed_gives_different_data(tmp_path: Path, csv_dir: Path) -> None:
    other = tmp_path / "other"
    generate_sample_data(other, n_customers=1000, seed=43, file_format="csv")
    for stem in ("Online_Sales", "CustomersData", "Marketing_Spend"):
        assert (other / f"{stem}.csv").read_bytes() != (csv_dir / f"{stem}.csv").read_bytes()
    assert (other / "planted_segments.csv").read_bytes() != (
        csv_dir / "planted_segments.csv"
    ).read_bytes()


def test_parquet_matches_csv(csv_dir: Path, parquet_dir: Path) -> None:
    expected = {f"{stem}.parquet" for stem in STEMS} | {"planted_segments.csv"}
    assert {p.name for p in parquet_dir.iterdir()} == expected
    for stem in STEMS:
        n_csv = len(_rows(csv_dir / f"{stem}.csv"))
        assert pq.read_metadata(parquet_dir / f"{stem}.parquet").num_rows == n_csv, stem
    assert (parquet_dir / "planted_segments.csv").read_bytes() == (
        csv_dir / "planted_segments.csv"
    ).read_bytes()

    sales = pq.read_schema(parquet_dir / "Online_Sales.parquet")
    assert sales.names == HEADERS["Online_Sales"].split(",")
    assert sales.field("CustomerID").type == pa.int64()
    assert sales.field("Transaction_ID").type == pa.int64()
    assert sales.field("Transaction_Date").type == pa.date32()
    assert sales.field("Quantity").type == pa.int64()
    assert sales.field("Avg_Price").type == pa.float64()
    assert sales.field("Product_Category").type == pa.string()
    assert pq.read_schema(parquet_dir / "Discount_Coupon.parquet").names == [
        "Month",
        "Product_Category",
        "Coupon_Code",
        "Discount_pct",
    ]
    assert pq.read_schema(parquet_dir / "Marketing_Spend.parquet").field("Date").type == (
        pa.date32()
    )

    # Same rows, whatever the format.
    con = duckdb.connect()
    diff = con.execute(
        f"select count(*) from ((select * from {_scan(csv_dir, 'Online_Sales')}) "
        f"except all (select * from {_scan(parquet_dir, 'Online_Sales')}))"
    ).fetchone()
    assert diff == (0,)


def test_switching_format_removes_the_other_format(tmp_path: Path) -> None:
    generate_sample_data(tmp_path, n_customers=20, file_format="csv")
    generate_sample_data(tmp_path, n_customers=20, file_format="parquet")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"{stem}.parquet" for stem in STEMS} | {"planted_segments.csv"}


def test_kmeans_recovers_planted_archetypes(planted_sample: PlantedSample) -> None:
    """The archetypes are real structure: plain k-means++ on the features finds them."""
    feats = planted_sample.features.matrix
    truth = np.array([ARCHETYPES.index(name) for name in planted_sample.archetypes])
    assert feats[:, 0].min() == 1  # someone bought on 31 December
    x = np.column_stack(
        [feats[:, 0], np.log1p(feats[:, 1]), np.log1p(feats[:, 2]), np.log1p(feats[:, 3])]
    )
    labels = KMeans(n_clusters=5, n_init=10, random_state=42).fit_predict(
        StandardScaler().fit_transform(x)
    )
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_lines_per_customer_targets_line_count(tmp_path: Path) -> None:
    summary = generate_sample_data(tmp_path, n_customers=500, seed=1, lines_per_customer=60)
    assert summary.n_sales_lines / 500 == pytest.approx(60, rel=0.1)
    low = generate_sample_data(
        tmp_path / "low", n_customers=500, seed=1, lines_per_customer=min_lines_per_customer()
    )
    assert low.n_sales_lines == low.n_orders


def test_the_documented_line_counts() -> None:
    # By hand from the profiles: sum over archetypes of share * mean orders * mean lines per
    # order, e.g. Champions 0.14 * (22 + 18 * 0.5) * 3.4 = 14.756; the five add up to 32.4778.
    # One line per order: 0.14 * 3.35 + 0.20 * 8.7 + 0.30 * 1.6 + 0.14 * 31 + 0.22 * 13.2.
    assert default_lines_per_customer() == pytest.approx(32.4778)
    assert min_lines_per_customer() == pytest.approx(9.933)


def test_tiny_dataset(tmp_path: Path) -> None:
    summary = generate_sample_data(tmp_path, n_customers=1, seed=0)
    assert summary.n_customers == 1 and summary.n_sales_lines >= 1
    assert len(_rows(tmp_path / "planted_segments.csv")) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"n_customers": -5}, "n_customers"),
        ({"n_customers": 2.5}, "n_customers"),
        ({"seed": -1}, "seed"),
        ({"file_format": "json"}, "file_format"),
        ({"file_format": "CSV"}, "file_format"),
        ({"lines_per_customer": 1.0}, "lines_per_customer"),
        ({"lines_per_customer": float("nan")}, "lines_per_customer"),
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_sample_data(tmp_path / "never", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "never").exists()
