"""Your own data: files, columns and date formats mapped by custseg.toml, loaded and run.

What the mapping does to names and values, that hostile names stay names, and a whole run on
another shop's export under its own names. The rules that then judge the values have their own
tests in test_bad_input.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custseg.config_file import load_config_file, settings_from
from custseg.errors import InputDataError
from custseg.ingest.files import plan_inputs
from custseg.ingest.layout import UNPARSED_DATE_PREFIX
from custseg.pipeline import run_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import resolve_settings
from custseg.sql import quote_literal
from tests.support import copy_project, load_into_duckdb, write_config
from tests.support import write_input_files as write_data

# ---------------------------------------------------------------- loading with a mapping


def load_mapped(tmp_path: Path, config_text: str, data: Path) -> duckdb.DuckDBPyConnection:
    """Read the files through the mapping into raw tables, without the input checks.

    These tests look at what the mapping does to names and values; the rules that then judge
    those values (custseg.input_checks) have their own tests in test_bad_input.py.
    """
    config = load_config_file(write_config(tmp_path / "conf", config_text))
    con = duckdb.connect()
    con.execute("create schema raw")
    for plan in plan_inputs(con, data, config.inputs):
        con.execute(f"create table raw.{plan.table.table_name} as {plan.select_sql}")
    return con


def test_files_and_columns_are_renamed_and_iso_dates_become_month_day_year(
    tmp_path: Path,
) -> None:
    data = write_data(
        tmp_path / "data",
        **{
            "CustomersData.csv": "",
            "clients.csv": "Months Active,Client_Ref,sex,city,CustomerID\n3,007,F,Paris,x\n",
            "Online_Sales.csv": "",
            "orders.csv": (
                "client_ref,Transaction_ID,order_day,Product_SKU,Product_Description,"
                "Product_Category,Quantity,Avg_Price,Delivery_Charges,Coupon_Status\n"
                "007,1,2019-01-05,SKU1,Bag,Apparel,2,10.5,6.5,Used\n"
                "007,2,2019-12-31,SKU1,Bag,Apparel,1,10.5,6.5,Used\n"
            ),
        },
    )
    con = load_mapped(
        tmp_path,
        """
        [inputs.customers]
        file = "clients.csv"
        [inputs.customers.columns]
        customerid = "client_ref"
        gender = "sex"
        location = "city"
        tenure_months = "months active"
        [inputs.sales]
        file = "orders.csv"
        date_format = "%Y-%m-%d"
        [inputs.sales.columns]
        customerid = "Client_Ref"
        transaction_date = "order_day"
        """,
        data,
    )
    assert con.execute("select * from raw.customers_data").fetchall() == [
        ("007", "F", "Paris", "3")
    ]
    assert con.execute(
        "select file_line_number, customerid, transaction_date from raw.online_sales order by 1"
    ).fetchall() == [(2, "007", "1/5/2019"), (3, "007", "12/31/2019")]
    # The file's own CustomerID column is not read when customerid is mapped elsewhere.
    config = load_config_file(tmp_path / "conf" / "custseg.toml")
    loaded = load_into_duckdb(tmp_path / "w.duckdb", data, config.inputs)
    assert loaded[0].ignored_columns == ("CustomerID",)
    assert loaded[0].source_path == data / "clients.csv"


def parse_like_staging(con: duckdb.DuckDBPyConnection, text: str) -> dt.date | None:
    """What stg_* does with a raw date on DuckDB (macros/parse_mdy_date.sql)."""
    return con.execute("select cast(try_strptime(trim(?), '%m/%d/%Y') as date)", [text]).fetchone()[
        0
    ]


def test_a_date_that_does_not_match_its_format_stays_visible_and_fails_staging(
    tmp_path: Path,
) -> None:
    data = write_data(
        tmp_path / "data",
        **{
            "Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n"
            "13/01/2019,1,1\n30/02/2019,1,1\n12/13/2019,1,1\n,1,1\n"
        },
    )
    con = load_mapped(tmp_path, '[inputs.marketing_spend]\ndate_format = "%d/%m/%Y"\n', data)
    dates = [row[0] for row in con.execute("select date from raw.marketing_spend").fetchall()]
    prefix = f"{UNPARSED_DATE_PREFIX}%d/%m/%Y: "
    # 12/13/2019 is no day-first date; it must not be reread as December 13.
    assert dates == ["1/13/2019", prefix + "30/02/2019", prefix + "12/13/2019", None]
    assert [parse_like_staging(con, d) for d in dates if d] == [dt.date(2019, 1, 13), None, None]


def test_ids_are_text_end_to_end_in_csv_and_parquet(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", **{"CustomersData.csv": "", "Online_Sales.csv": ""})
    (data / "clients.csv").write_text(
        "ref,Gender,Location,Tenure_Months\n007,M,X,1\nC-0001,F,Y,2\n"
    )
    sales = {
        "CustomerID": pa.array([7, 12], pa.int64()),  # an integer holds no leading zeros
        "Transaction_ID": pa.array(["007", "T-1"]),  # a text column keeps them
        "Transaction_Date": pa.array([dt.date(2019, 1, 5), dt.date(2019, 2, 9)]),  # typed
        **{
            name: pa.array(["a", "b"])
            for name in ("Product_SKU", "Product_Description", "Product_Category")
        },
        "Quantity": pa.array([1, 2]),
        "Avg_Price": pa.array([1.5, 2.0]),
        "Delivery_Charges": pa.array([0.0, 6.5]),
        "Coupon_Status": pa.array(["Used", "Clicked"]),
    }
    pq.write_table(pa.table(sales), data / "orders.parquet")
    con = load_mapped(
        tmp_path,
        """
        [inputs.customers]
        file = "clients.csv"
        columns = { customerid = "ref" }
        [inputs.sales]
        file = "orders.parquet"
        date_format = "%Y-%m-%d"
        """,
        data,
    )
    assert con.execute("select customerid from raw.customers_data").fetchall() == [
        ("007",),
        ("C-0001",),
    ]
    assert con.execute(
        "select customerid, transaction_id, transaction_date, quantity from raw.online_sales"
    ).fetchall() == [("7", "007", "1/5/2019", "1"), ("12", "T-1", "2/9/2019", "2")]
    types = {row[1] for row in con.execute("describe raw.online_sales").fetchall()[1:]}
    assert types == {"VARCHAR"}


def test_a_missing_mapped_column_names_the_key_to_fix(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    with pytest.raises(InputDataError) as caught:
        load_mapped(tmp_path, '[inputs.taxes.columns]\ngst = "vat_rate"\n', data)
    message = str(caught.value)
    assert "Tax_amount.csv: missing column(s) 'vat_rate' (for gst, set in [inputs.taxes." in message
    assert "Found header: Product_Category, GST." in message


def test_a_configured_file_that_is_missing_is_named(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    with pytest.raises(InputDataError, match="vat.csv: no such file. file = 'vat.csv' in"):
        load_mapped(tmp_path, '[inputs.taxes]\nfile = "vat.csv"\n', data)


def test_a_configured_file_named_like_a_pattern_is_read_literally(tmp_path: Path) -> None:
    # DuckDB would read "vat[1].csv" as a pattern matching vat1.csv.
    data = write_data(
        tmp_path / "data",
        **{"vat[1].csv": "Product_Category,GST\nApparel,0.18\n", "vat1.csv": "x,y\n1,2\n"},
    )
    con = load_mapped(tmp_path, '[inputs.taxes]\nfile = "vat[1].csv"\n', data)
    assert con.execute("select * from raw.tax_amount").fetchall() == [("Apparel", "0.18")]


# ---------------------------------------------------------------- hostile names

HOSTILE_COLUMN = 'rate"; drop table main.canary; --'
HOSTILE_FILE = "vat'); drop table main.canary; --.csv"
HOSTILE_FORMAT = "%Y-%m-%d'); drop table main.canary; --"


def canary_connection(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create table main.canary as select 1 as alive")
    return con


def toml_string(value: str) -> str:
    """A TOML basic string holding ``value`` exactly."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_hostile_names_are_read_as_names_never_as_sql(tmp_path: Path) -> None:
    data = write_data(
        tmp_path / "data",
        **{
            "Tax_amount.csv": "",
            HOSTILE_FILE: 'Product_Category,"rate""; drop table main.canary; --"\nApparel,0.18\n',
            "Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n2019-01-01,4500,2424.5\n",
        },
    )
    config = load_config_file(
        write_config(
            tmp_path / "conf",
            f"""
            [inputs.taxes]
            file = {toml_string(HOSTILE_FILE)}
            [inputs.taxes.columns]
            gst = {toml_string(HOSTILE_COLUMN)}
            [inputs.marketing_spend]
            date_format = {toml_string(HOSTILE_FORMAT)}
            """,
        )
    )
    database = tmp_path / "w.duckdb"
    canary_connection(database).close()
    # The input checks reject the dates (none matches the odd format), quoting it as text.
    with pytest.raises(InputDataError, match="does not match its date_format"):
        load_into_duckdb(database, data, config.inputs)
    with duckdb.connect(str(database)) as con:
        assert con.execute("select * from main.canary").fetchall() == [(1,)]
        for plan in plan_inputs(con, data, config.inputs):
            con.execute(f"create table raw.{plan.table.table_name} as {plan.select_sql}")
        assert con.execute("select * from raw.tax_amount").fetchall() == [("Apparel", "0.18")]
        # The format is literal text around %Y-%m-%d: no value matches it, and each says so.
        assert con.execute("select date from raw.marketing_spend").fetchall() == [
            (f"{UNPARSED_DATE_PREFIX}{HOSTILE_FORMAT}: 2019-01-01",)
        ]
        assert con.execute("select * from main.canary").fetchall() == [(1,)]


def test_a_hostile_name_that_is_not_in_the_file_is_just_missing(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    hostile = 'x" from main.canary; drop table main.canary; select "'
    config = load_config_file(
        write_config(tmp_path / "conf", f"[inputs.taxes.columns]\ngst = {toml_string(hostile)}\n")
    )
    database = tmp_path / "w.duckdb"
    canary_connection(database).close()
    with pytest.raises(InputDataError, match="missing column"):
        load_into_duckdb(database, data, config.inputs)
    with duckdb.connect(str(database)) as con:
        assert con.execute("select * from main.canary").fetchall() == [(1,)]


# ---------------------------------------------------------------- end to end

MAPPED_CONFIG = """
[run]
data_dir = "export"
as_of_date = "2020-01-01"

[inputs.customers]
file = "clients.csv"
[inputs.customers.columns]
customerid = "client_ref"
gender = "sex"
tenure_months = "months_active"

[inputs.sales]
file = "orders_export.parquet"
date_format = "%Y-%m-%d"
[inputs.sales.columns]
customerid = "client_ref"
transaction_id = "order_no"
transaction_date = "order_day"
avg_price = "unit_price"

[inputs.coupons]
file = "vouchers.csv"
[inputs.coupons.columns]
discount_pct = "percent_off"

[inputs.taxes]
file = "vat_rates.parquet"
[inputs.taxes.columns]
gst = "vat_rate"

[inputs.marketing_spend]
file = "ad_spend.csv"
date_format = "%d.%m.%Y"
[inputs.marketing_spend.columns]
date = "day"
"""


def rename_sample(usual: Path, export: Path) -> dict[str, str]:
    """Rewrite the usual files as another shop's export; return new id -> usual id.

    Customer ids become text ids C-0001, ... (in the usual ids' order), dates become ISO
    (sales) and day-first (marketing spend), files and columns get other names.
    """
    export.mkdir(parents=True)

    def src(stem: str) -> str:
        return quote_literal(str(usual / f"{stem}.csv"))

    def out(name: str) -> str:
        return quote_literal(str(export / name))

    with duckdb.connect() as con:
        con.execute(
            f"create table ids as select customerid as usual_id, 'C-' || lpad(cast(row_number() "
            f"over (order by customerid) as varchar), 4, '0') as client_ref "
            f"from read_csv({src('CustomersData')}, all_varchar = true)"
        )
        con.execute(
            f"copy (select ids.client_ref, c.Tenure_Months as months_active, c.Location, "
            f"c.Gender as sex from read_csv({src('CustomersData')}, all_varchar = true) c "
            f"join ids on ids.usual_id = c.CustomerID order by ids.client_ref) to "
            f"{out('clients.csv')} (header, delimiter ',')"
        )
        con.execute(
            f"copy (select ids.client_ref, s.Transaction_ID as order_no, "
            f"strftime(strptime(s.Transaction_Date, '%m/%d/%Y'), '%Y-%m-%d') as order_day, "
            f"s.* exclude (CustomerID, Transaction_ID, Transaction_Date, Avg_Price), "
            f"s.Avg_Price as unit_price "
            f"from read_csv({src('Online_Sales')}, all_varchar = true) s "
            f"join ids on ids.usual_id = s.CustomerID) to {out('orders_export.parquet')} "
            f"(format parquet)"
        )
        con.execute(
            f"copy (select * rename (Discount_pct as percent_off) "
            f"from read_csv({src('Discount_Coupon')}, all_varchar = true)) "
            f"to {out('vouchers.csv')} (header, delimiter ',')"
        )
        con.execute(
            f"copy (select Product_Category, GST as vat_rate "
            f"from read_csv({src('Tax_amount')}, all_varchar = true)) "
            f"to {out('vat_rates.parquet')} (format parquet)"
        )
        con.execute(
            f"copy (select strftime(strptime(Date, '%m/%d/%Y'), '%d.%m.%Y') as day, "
            f"Offline_Spend, Online_Spend from read_csv({src('Marketing_Spend')}, "
            f"all_varchar = true)) to {out('ad_spend.csv')} (header, delimiter ',')"
        )
        return dict(con.execute("select client_ref, usual_id from ids").fetchall())


def mart_segments(duckdb_path: Path) -> dict[str, tuple[int, str]]:
    with duckdb.connect(str(duckdb_path)) as con:
        rows = con.execute(
            "select customer_id, segment_id, segment_name from fct_customer_segments"
        ).fetchall()
    return {customer_id: (segment_id, name) for customer_id, segment_id, name in rows}


def test_a_differently_named_export_with_text_ids_gets_the_same_segments(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("mapped")
    usual = root / "usual"
    generate_sample_data(usual, n_customers=300, seed=42)
    usual_id = rename_sample(usual, root / "export")
    config_path = root / "custseg.toml"
    config_path.write_text(MAPPED_CONFIG)

    reference = run_pipeline(
        resolve_settings(
            data_dir=usual, project_dir=copy_project(root / "p1"), as_of_date="2020-01-01"
        )
    )
    settings, inputs = settings_from(
        config_path, {"project_dir": copy_project(root / "p2")}, require_data_dir=True
    )
    mapped = run_pipeline(settings, inputs)

    assert mapped.loaded_tables[1].source_path == root / "export" / "orders_export.parquet"
    ours = mart_segments(reference.duckdb_path)
    theirs = mart_segments(mapped.duckdb_path)
    assert len(theirs) == mapped.n_customers == reference.n_customers > 250
    assert all(customer_id.startswith("C-") for customer_id in theirs)
    # Same customers under their own ids, each in the same segment.
    assert {usual_id[customer_id]: segment for customer_id, segment in theirs.items()} == ours
    assert [s.customers for s in mapped.segments] == [s.customers for s in reference.segments]
    assert [round(s.revenue, 6) for s in mapped.segments] == [
        round(s.revenue, 6) for s in reference.segments
    ]
