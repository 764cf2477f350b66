"""Parquet files keep their column types in DuckDB's raw tables: same results, same rules.

On the DuckDB target a Parquet file's numbers and dates land typed
(``custseg.ingest.files.kept_type``), and staging reads them without a text round trip
(``macros/raw_columns.sql``). These tests prove that this changes nothing a user sees: the same
data as CSV and as Parquet publishes byte-identical outputs, and a broken typed value is
rejected with the file, row, column and value named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.errors import InputDataError
from custseg.sample import generate_sample_data
from custseg.sql import quote_literal
from tests.support import CLEAN_ENV, PUBLISHED_FILES, comparable, copy_project, load_into_duckdb


def run(data_dir: Path, project: Path) -> dict:
    result = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(data_dir), "--project-dir", str(project), "--json"],
        env=CLEAN_ENV,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_same_data_as_csv_and_as_parquet_publishes_the_same(tmp_path: Path) -> None:
    for file_format in ("csv", "parquet"):
        generate_sample_data(
            tmp_path / file_format, n_customers=400, seed=5, file_format=file_format
        )
    csv_project = copy_project(tmp_path / "csv_project")
    parquet_project = copy_project(tmp_path / "parquet_project")
    csv_summary = run(tmp_path / "csv", csv_project)
    parquet_summary = run(tmp_path / "parquet", parquet_project)

    with duckdb.connect(str(parquet_project / "dbt_pipeline" / "custseg.duckdb")) as con:
        types = dict(
            con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = 'raw' and table_name = 'online_sales'"
            ).fetchall()
        )
    # The typed path really ran: numbers and dates were not turned into text.
    assert types["transaction_date"] == "DATE"
    assert types["avg_price"] == "DOUBLE"

    for name in PUBLISHED_FILES:
        # Two data folders are two datasets: equal but for the run id and the dataset.
        assert comparable(csv_project / name, same_dataset=False) == comparable(
            parquet_project / name, same_dataset=False
        ), name
    assert csv_summary["segments"] == parquet_summary["segments"]

    def mart(project: Path) -> list[tuple]:
        with duckdb.connect(str(project / "dbt_pipeline" / "custseg.duckdb")) as con:
            return con.execute(
                "select * exclude (updated_at) from fct_customer_segments order by customer_id"
            ).fetchall()

    assert mart(csv_project) == mart(parquet_project)


@pytest.fixture(scope="module")
def parquet_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("typed") / "data"
    generate_sample_data(data, n_customers=200, seed=8, file_format="parquet")
    return data


def rewrite_sales(data: Path, destination: Path, replace: str) -> Path:
    """Copy ``data`` to ``destination`` with Online_Sales rewritten by a DuckDB REPLACE list."""
    destination.mkdir()
    for path in data.iterdir():
        if path.name != "Online_Sales.parquet":
            (destination / path.name).write_bytes(path.read_bytes())
    source = quote_literal(str(data / "Online_Sales.parquet"))
    target = quote_literal(str(destination / "Online_Sales.parquet"))
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * exclude (file_row_number) replace ({replace}) "
            f"from read_parquet({source}, file_row_number = true) order by file_row_number) "
            f"to {target} (format parquet)"
        )
    return destination


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (
            "case when file_row_number = 6 then 'nan'::double else Avg_Price end as Avg_Price",
            "row 7, column avg_price: 'nan' is not a number",
        ),
        (
            "case when file_row_number = 9 then -2 else Quantity end as Quantity",
            "row 10, column quantity: '-2' must be greater than 0",
        ),
        (
            "case when file_row_number = 3 then -4.5 else Delivery_Charges end as Delivery_Charges",
            "row 4, column delivery_charges: '-4.5' must be 0 or more",
        ),
        (
            "case when file_row_number = 4 then null else CustomerID end as CustomerID",
            "row 5, column customerid: (empty) is empty",
        ),
        (
            "case when file_row_number = 7 then 'infinity'::date else Transaction_Date end "
            "as Transaction_Date",
            "row 8, column transaction_date: 'infinity' is not a real date",
        ),
        (
            # Ids stored as floats: a whole one is the integer (12346.0 names customer 12346),
            # any other value names no customer.
            "cast(CustomerID as double) + case when file_row_number = 5 then 0.5 else 0 end "
            "as CustomerID",
            ".5' is not a whole number: the file stores this id as a fractional",
        ),
        (
            "case when file_row_number = 2 then 'nan'::double else Transaction_ID::double end "
            "as Transaction_ID",
            "row 3, column transaction_id: 'nan' is not a whole number",
        ),
        (
            # dbt's decimal(38, 10) amounts hold less than 10^28.
            "case when file_row_number = 3 then 1e29 else Quantity end as Quantity",
            "row 4, column quantity: '1e+29' (with avg_price",
        ),
    ],
    ids=[
        "nan-price",
        "negative-quantity",
        "negative-delivery",
        "null-id",
        "infinite-date",
        "float-id",
        "nan-id",
        "overflowing-quantity",
    ],
)
def test_typed_values_break_the_same_rules(
    parquet_data: Path, tmp_path: Path, replace: str, expected: str
) -> None:
    data = rewrite_sales(parquet_data, tmp_path / "data", replace)
    database = tmp_path / "w.duckdb"
    query = "select count(*), sum(avg_price) from raw.online_sales"
    load_into_duckdb(database, parquet_data)
    with duckdb.connect(str(database)) as con:
        before = con.execute(query).fetchone()
    with pytest.raises(InputDataError) as raised:
        load_into_duckdb(database, data)
    assert expected in str(raised.value)
    assert "Online_Sales.parquet" in str(raised.value)
    # Checked before anything was replaced: the previous raw tables are kept.
    with duckdb.connect(str(database)) as con:
        assert con.execute(query).fetchone() == before


def test_a_typed_zero_quantity_is_skipped_or_with_strict_amounts_rejected(
    parquet_data: Path, tmp_path: Path
) -> None:
    zero = "case when file_row_number = 9 then 0 else Quantity end as Quantity"
    data = rewrite_sales(parquet_data, tmp_path / "data", zero)
    with pytest.raises(InputDataError) as raised:
        load_into_duckdb(tmp_path / "strict.duckdb", data, strict_amounts=True)
    assert "Online_Sales.parquet row 10, column quantity: '0' must be greater than 0" in str(
        raised.value
    )
    clean = load_into_duckdb(tmp_path / "clean.duckdb", parquet_data)[1]
    sales = load_into_duckdb(tmp_path / "w.duckdb", data)[1]
    assert "Online_Sales.parquet: skipped 1 line(s) worth nothing (1 with quantity 0; row 10)" in (
        " ".join(sales.repairs)
    )
    assert sales.row_count == clean.row_count - 1


def test_typed_duplicate_lines_are_dropped_and_counted(parquet_data: Path, tmp_path: Path) -> None:
    source = parquet_data / "Online_Sales.parquet"
    clean = load_into_duckdb(tmp_path / "clean.duckdb", parquet_data)[1]
    found = re.search(r"dropped (\d+) exact", " ".join(clean.repairs))
    dropped = int(found[1]) if found else 0
    data = tmp_path / "data"
    data.mkdir()
    for path in parquet_data.iterdir():
        if path.name != "Online_Sales.parquet":
            (data / path.name).write_bytes(path.read_bytes())
    with duckdb.connect() as con:
        # Rows 11 and 21 (file rows 10 and 20) appear again at the end of the file.
        con.execute(
            f"copy (select * exclude (n, file_row_number) from (select *, file_row_number as n "
            f"from read_parquet('{source}', file_row_number = true) "
            f"union all select *, 1e9 + file_row_number as n "
            f"from read_parquet('{source}', file_row_number = true) "
            f"where file_row_number in (10, 20)) order by n) "
            f"to '{data / 'Online_Sales.parquet'}' (format parquet)"
        )
    sales = load_into_duckdb(tmp_path / "w.duckdb", data)[1]
    assert sales.row_count == clean.row_count
    assert f"dropped {dropped + 2} exact duplicate line(s)" in " ".join(sales.repairs)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        (remaining,) = con.execute("select count(*) from raw.online_sales").fetchone()
    assert remaining == clean.row_count
