"""Loading the raw files: headers, formats, line numbers, all-or-nothing replacement."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custseg.config_file import load_config_file
from custseg.errors import InputDataError
from custseg.ingest.files import kept_type, plan_inputs
from custseg.ingest.physical_lines import PhysicalLines
from tests.support import load_into_duckdb
from tests.support import write_input_files as write_files


def test_loads_text_keeping_ids_trimming_headers_and_numbering_lines(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    loaded = load_into_duckdb(tmp_path / "w.duckdb", data)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert [(t.table_name, t.row_count) for t in loaded] == [
            ("customers_data", 2),
            ("online_sales", 2),
            ("discount_coupon", 1),
            ("tax_amount", 2),
            ("marketing_spend", 1),
        ]
        assert con.execute("select customerid from raw.customers_data order by 1").fetchall() == [
            ("0017",),
            ("A-2",),
        ]
        assert con.execute(
            "select file_line_number, product_description from raw.online_sales order by 1"
        ).fetchall() == [(2, "Bag, large"), (3, "Pen")]
        assert con.execute("select product_category from raw.discount_coupon").fetchall() == [
            ("Apparel",)
        ]


def test_missing_column_is_named_with_the_file(tmp_path: Path) -> None:
    data = write_files(
        tmp_path / "data", **{"Tax_amount.csv": "Product_Category,Rate\nApparel,0.1\n"}
    )
    with pytest.raises(InputDataError) as caught:
        load_into_duckdb(tmp_path / "w.duckdb", data)
    assert "Tax_amount.csv: missing column(s) gst" in str(caught.value)


def test_semicolon_file_gets_a_hint(tmp_path: Path) -> None:
    data = write_files(
        tmp_path / "data", **{"Tax_amount.csv": "Product_Category;GST\nApparel;0.1\n"}
    )
    with pytest.raises(InputDataError) as caught:
        load_into_duckdb(tmp_path / "w.duckdb", data)
    assert "delimited by ';'" in str(caught.value)


def test_missing_sales_and_headers_only_file_are_refused(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    (data / "Online_Sales.csv").unlink()
    with pytest.raises(InputDataError, match="no Online_Sales.csv"):
        load_into_duckdb(tmp_path / "w.duckdb", data)
    write_files(data, **{"Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n"})
    with pytest.raises(InputDataError, match="no data rows"):
        load_into_duckdb(tmp_path / "w.duckdb", data)


def test_inputs_not_given_are_empty_tables_with_every_column(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    for name in ("CustomersData", "Discount_Coupon", "Tax_amount", "Marketing_Spend"):
        (data / f"{name}.csv").unlink()
    (data / "Online_Sales.csv").write_text(
        "CustomerID,Transaction_Date,Quantity,Avg_Price\n0017,1/5/2019,2,3.5\n"
    )
    loaded = load_into_duckdb(tmp_path / "w.duckdb", data)
    assert [(t.table_name, t.row_count, t.source_path is None) for t in loaded] == [
        ("customers_data", 0, True),
        ("online_sales", 1, False),
        ("discount_coupon", 0, True),
        ("tax_amount", 0, True),
        ("marketing_spend", 0, True),
    ]
    assert "CustomersData: not given" in loaded[0].repairs[0]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute("select * from raw.online_sales").fetchall() == [
            (2, "0017", None, "1/5/2019", None, None, None, "2", "3.5", None, None, None)
        ]
        columns = con.execute("describe raw.customers_data").fetchall()
        assert [c[0] for c in columns] == ["customerid", "gender", "location", "tenure_months"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("CustomerID,Transaction_Date,Quantity", "missing column(s) avg_price"),
        ("CustomerID,Transaction_Date", "missing column(s) amount (the line total), or quantity"),
        ("CustomerID,Quantity,Avg_Price", "missing column(s) transaction_date"),
    ],
)
def test_the_sales_need_a_customer_a_date_and_a_revenue(
    tmp_path: Path, header: str, expected: str
) -> None:
    data = write_files(tmp_path / "data")
    row = ",".join(["1"] * len(header.split(",")))
    (data / "Online_Sales.csv").write_text(f"{header}\n{row}\n")
    with pytest.raises(InputDataError) as caught:
        load_into_duckdb(tmp_path / "w.duckdb", data)
    assert expected in str(caught.value)


def test_a_whitespace_file_names_its_ragged_line(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    (data / "log.txt").write_text("cust date dollars\n1 20190105 3.50\n\n2 20190106\n")
    config = tmp_path / "custseg.toml"
    config.write_text(
        '[inputs.sales]\nfile = "log.txt"\ndelimiter = "whitespace"\n'
        'date_format = "YYYYMMDD"\n[inputs.sales.columns]\ncustomerid = "cust"\n'
        'transaction_date = "date"\namount = "dollars"\n'
    )
    inputs = load_config_file(config).inputs
    with pytest.raises(InputDataError) as caught:
        load_into_duckdb(tmp_path / "w.duckdb", data, inputs)
    assert "log.txt line 4: 2 values where the header has 3" in str(caught.value)


def test_a_failed_load_leaves_the_previous_raw_tables(tmp_path: Path) -> None:
    good = write_files(tmp_path / "good")
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "Marketing_Spend.csv").write_text("Date,Offline_Spend,Online_Spend\n")
    (bad / "CustomersData.csv").write_text("CustomerID,Gender,Location,Tenure_Months\n9,M,X,1\n")
    database = tmp_path / "w.duckdb"
    load_into_duckdb(database, good)
    with pytest.raises(InputDataError):
        load_into_duckdb(database, bad)
    with duckdb.connect(str(database)) as con:
        assert con.execute("select count(*) from raw.customers_data").fetchone() == (2,)
        # The rejected files were staged beside the raw tables; nothing of them is left.
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
        ).fetchall()
    assert tables == [
        ("customers_data",),
        ("discount_coupon",),
        ("marketing_spend",),
        ("online_sales",),
        ("tax_amount",),
    ]


def _spend_parquet(data: Path) -> None:
    (data / "Marketing_Spend.csv").unlink()
    table = pa.table(
        {
            "Date": pa.array([dt.datetime(2019, 1, 5, 13, 30)]),
            "Offline_Spend": pa.array([4500.0]),
            "Online_Spend": pa.array([10.25]),
        }
    )
    pq.write_table(table, data / "Marketing_Spend.parquet")


def test_parquet_keeps_its_types_on_duckdb(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    _spend_parquet(data)
    load_into_duckdb(tmp_path / "w.duckdb", data)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute("select * from raw.marketing_spend").fetchall() == [
            (dt.date(2019, 1, 5), 4500.0, 10.25)
        ]
        types = con.execute("select typeof(date), typeof(offline_spend) from raw.marketing_spend")
        assert types.fetchall() == [("DATE", "DOUBLE")]
        # CSV files stay text: staging parses them.
        assert con.execute("select typeof(tenure_months) from raw.customers_data").fetchone() == (
            "VARCHAR",
        )


def test_parquet_becomes_month_day_year_text_for_text_exports(tmp_path: Path) -> None:
    """PostgreSQL and Spark load a text export of what DuckDB read: dates as M/D/YYYY."""
    data = write_files(tmp_path / "data")
    _spend_parquet(data)
    with duckdb.connect() as con:
        plans = plan_inputs(con, data)
        spend = next(plan for plan in plans if plan.table.table_name == "marketing_spend")
        assert con.execute(spend.select_sql).fetchall() == [("1/5/2019", "4500.0", "10.25")]


@pytest.mark.parametrize(
    ("type_name", "is_date_column", "expected"),
    [
        ("BIGINT", False, '"c"'),
        ("DOUBLE", False, '"c"'),
        ("DECIMAL(18,3)", False, '"c"'),
        ("VARCHAR", False, '"c"'),
        ("DATE", True, '"c"'),
        ("TIMESTAMP", True, 'cast("c" as date)'),
        ("TIMESTAMP WITH TIME ZONE", True, "cast(timezone('UTC', \"c\") as date)"),
        # Written dates are read by their format; odd types become text for the checks to judge.
        ("VARCHAR", True, None),
        ("BIGINT", True, None),
        ("DATE", False, None),
        ("BOOLEAN", False, None),
        ("STRUCT(a INTEGER)", False, None),
        ("BLOB", False, None),
    ],
)
def test_which_parquet_types_are_kept(
    type_name: str, is_date_column: bool, expected: str | None
) -> None:
    assert kept_type('"c"', type_name, is_date_column=is_date_column) == expected


@pytest.mark.parametrize("folder", ["data[1]", "d*ta1", "dat?1"])
def test_a_folder_named_like_a_pattern_is_read_literally(tmp_path: Path, folder: str) -> None:
    # DuckDB would read "data[1]/CustomersData.csv" as a pattern matching data1's file.
    write_files(tmp_path / "data1")
    (tmp_path / "data1" / "CustomersData.csv").write_text(
        "CustomerID,Gender,Location,Tenure_Months\n0017,M,Chicago,12\nA-2,F,Ohio,3\nB-9,F,X,1\n"
    )
    data = write_files(tmp_path / folder)
    loaded = load_into_duckdb(tmp_path / "w.duckdb", data)
    assert [t.row_count for t in loaded][0] == 2
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert con.execute("select location from raw.customers_data order by 1").fetchall() == [
            ("California",),
            ("Chicago",),
        ]


def test_a_parquet_column_twice_in_other_case_is_refused_naming_both(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    (data / "Tax_amount.csv").unlink()
    table = pa.table({"Product_Category": ["Apparel", "Office"], "GST": [0.18, 0.1], "gst": [1, 1]})
    pq.write_table(table, data / "Tax_amount.parquet")
    with pytest.raises(InputDataError) as caught:
        load_into_duckdb(tmp_path / "w.duckdb", data)
    assert "Tax_amount.parquet line 1 (the header): 2 columns, 'GST' and 'gst', are the same" in (
        str(caught.value)
    )


@pytest.mark.parametrize("keep_types", [True, False])
def test_a_timestamp_with_a_time_zone_is_its_utc_date_in_every_session_zone(
    tmp_path: Path, keep_types: bool
) -> None:
    data = write_files(tmp_path / "data")
    (data / "Marketing_Spend.csv").unlink()
    utc = dt.UTC
    table = pa.table(
        {
            # 23:30 UTC is the next day in Tokyo, 01:30 UTC the previous day in Los Angeles.
            "Date": pa.array(
                [
                    dt.datetime(2019, 1, 5, 23, 30, tzinfo=utc),
                    dt.datetime(2019, 1, 7, 1, 30, tzinfo=utc),
                ],
                type=pa.timestamp("us", tz="UTC"),
            ),
            "Offline_Spend": pa.array([4500.0, 1.0]),
            "Online_Spend": pa.array([10.25, 1.0]),
        }
    )
    pq.write_table(table, data / "Marketing_Spend.parquet")
    dates = {}
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        with duckdb.connect() as con:
            con.execute(f"set TimeZone = '{zone}'")
            plans = plan_inputs(con, data, keep_types=keep_types)
            spend = next(plan for plan in plans if plan.table.table_name == "marketing_spend")
            dates[zone] = [row[0] for row in con.execute(spend.select_sql).fetchall()]
    expected = (
        [dt.date(2019, 1, 5), dt.date(2019, 1, 7)] if keep_types else ["1/5/2019", "1/7/2019"]
    )
    assert dates == {zone: expected for zone in dates}


def test_whole_float_ids_are_their_integers_text(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data")
    for name in ("CustomersData.csv", "Online_Sales.csv"):
        path = data / name
        with duckdb.connect() as con:
            con.execute(
                f"copy (select * replace (cast(regexp_replace(CustomerID, '[^0-9]', '', 'g') "
                f"as double) as CustomerID) from read_csv('{path}', all_varchar = true)) "
                f"to '{path.with_suffix('.parquet')}' (format parquet)"
            )
        path.unlink()
    load_into_duckdb(tmp_path / "w.duckdb", data)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for table in ("customers_data", "online_sales"):
            assert con.execute(f"select customerid from raw.{table} order by 1").fetchall() == [
                ("17",),
                ("2",),
            ]


def test_physical_lines_are_searched_only_when_a_record_spans_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n3,4\n")
    with monkeypatch.context() as patched:
        patched.setattr(PhysicalLines, "_scan", lambda self: pytest.fail("scanned"))
        assert [PhysicalLines(plain, 3)(n) for n in (1, 2, 3)] == [1, 2, 3]
    # Lines: 1 header, 2-3 one record, 4 empty (skipped, as DuckDB does), 5, 6-8, 9.
    multi = tmp_path / "multi.csv"
    multi.write_text('a,b\n1,"x\ny"\n\n3,4\n"p\nq\nr",5\n6,7')
    lines = PhysicalLines(multi, 5)
    assert [lines(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 5, 6, 9]
