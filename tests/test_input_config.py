"""Your own data: custseg.toml parsing, validation, mapped loading, and a mapped end-to-end run."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.config import resolve_run_config
from custseg.errors import ConfigError, CustsegError, InputDataError
from custseg.input_config import (
    INPUT_KEYS,
    UNPARSED_DATE_PREFIX,
    CustsegConfig,
    load_config,
    merge_settings,
)
from custseg.pipeline import run_pipeline
from custseg.raw_load import load_raw_files, plan_raw_files, quote_literal
from custseg.sample_data import generate_sample_data
from tests.support import REPO_ROOT, copy_project

# Minimal valid inputs in the usual layout; tests rename some of them.
USUAL_FILES = {
    "CustomersData.csv": "CustomerID,Gender,Location,Tenure_Months\n0017,M,Chicago,12\n",
    "Online_Sales.csv": (
        "CustomerID,Transaction_ID,Transaction_Date,Product_SKU,Product_Description,"
        "Product_Category,Quantity,Avg_Price,Delivery_Charges,Coupon_Status\n"
        "0017,1,1/5/2019,SKU1,Bag,Apparel,2,10.5,6.5,Used\n"
    ),
    "Discount_Coupon.csv": "Month,Product_Category,Coupon_Code,Discount_pct\nJan,Apparel,S10,10\n",
    "Tax_amount.csv": "Product_Category,GST\nApparel,0.18\n",
    "Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n1/1/2019,4500,2424.5\n",
}


def write_config(folder: Path, text: str, name: str = "custseg.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def write_data(folder: Path, **files: str) -> Path:
    """The usual files with ``files`` added (name -> text); a value of "" removes a file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**USUAL_FILES, **files}.items():
        if text:
            (folder / name).write_text(text)
    return folder


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    return str(caught.value)


# ---------------------------------------------------------------- parsing and validation


def test_the_example_maps_every_input_and_sets_every_option() -> None:
    config = load_config(REPO_ROOT / "custseg.example.toml")
    assert config.data_dir == REPO_ROOT / "exports" / "2024"
    assert config.duckdb_path == REPO_ROOT / "warehouse" / "custseg.duckdb"
    assert (config.as_of_date, config.k, config.random_state, config.target) == (
        "2025-01-01",
        5,
        42,
        "duckdb",
    )
    assert [spec.key for spec in config.inputs] == list(INPUT_KEYS)
    for spec in config.inputs:
        # Every one of our columns is mapped, so the example documents all of them.
        assert [ours for ours, _ in spec.columns] == list(spec.table.columns), spec.key
    sales = next(spec for spec in config.inputs if spec.key == "sales")
    assert (sales.file, sales.date_format, sales.source_column("customerid")) == (
        "orders_export.parquet",
        "%Y-%m-%d",
        "client_ref",
    )


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "conf",
        """
        [run]
        data_dir = "../exports/2024"
        duckdb_path = "w.duckdb"
        as_of_date = 2020-01-01
        k = "auto"
        """,
    )
    config = load_config(path)
    assert config.data_dir == tmp_path / "exports" / "2024"
    assert config.duckdb_path == tmp_path / "conf" / "w.duckdb"
    assert config.as_of_date == "2020-01-01"
    assert config.run_settings() == {
        "data_dir": tmp_path / "exports" / "2024",
        "as_of_date": "2020-01-01",
        "n_segments": None,
        "duckdb_path": tmp_path / "conf" / "w.duckdb",
    }
    assert config.inputs == ()


def test_an_empty_file_sets_nothing(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ""))
    assert config == CustsegConfig(path=(tmp_path / "custseg.toml").resolve())
    assert config.run_settings() == {}


def test_unknown_input_is_named_with_the_valid_ones(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[inputs.custmers]\nfile = "c.csv"\n')
    assert "[inputs] of" in message
    assert "unknown input 'custmers'; valid: customers, sales, coupons, taxes, marketing_spend" in (
        message
    )


def test_unknown_column_is_named_with_our_columns(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[inputs.customers.columns]\nclient_id = "ref"\n')
    assert "[inputs.customers.columns] of" in message
    assert "'client_id' is not a column of customers; ours are customerid, gender, " in message
    assert 'our_name = "your name"' in message


def test_our_column_names_ignore_case_and_spaces(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, '[inputs.customers.columns]\nCustomerID = "ref"\n'))
    assert config.inputs[0].columns == (("customerid", "ref"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[run]\nthreads = 4\n", "[run] of"),
        ("[run]\nthreads = 4\n", "unknown key 'threads'; valid: data_dir, as_of_date, k"),
        ("[settings]\n", "unknown top-level table 'settings'; valid: run, inputs"),
        ('[inputs.sales]\nfilename = "s.csv"\n', "unknown key 'filename'; valid: file, date_"),
        ("[run]\nk = 7\n", "k in [run] of"),
        ("[run]\nk = 7\n", "a whole number from 2 to 5 (the naming rules define 5 segments) or k"),
        ("[run]\nk = true\n", "k in [run]"),
        ("[run]\nrandom_state = -1\n", "random_state in [run] of"),
        ('[run]\ntarget = "mysql"\n', "choose one of duckdb, postgres, spark"),
        ('[run]\nas_of_date = "1/1/2020"\n', 'write as_of_date = "2020-01-01" (YYYY-MM-DD)'),
        ("[run]\ndata_dir = 3\n", "data_dir in [run] of"),
        ("[run\n", "not valid TOML"),
        ('[inputs.sales]\nfile = "sales.xlsx"\n', "must end in .csv or .parquet"),
        ('[inputs.sales]\nfile = "sales*.csv"\n', "would be read as a pattern"),
        ('[inputs.sales.columns]\nquantity = ""\n', "must be your column's name in quotes"),
        (
            '[inputs.sales.columns]\ncustomerid = "ref"\ntransaction_id = "REF "\n',
            "customerid and transaction_id would both read your column 'ref'",
        ),
        (
            '[inputs.customers.columns]\ncustomerid = "gender"\n',
            "customerid and gender would both read your column 'gender'",
        ),
    ],
)
def test_invalid_settings_say_what_to_write(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("date_format", "expected"),
    [
        (
            "%Y-%m",
            "does not hold a whole date (2019-11-23 written with it reads back as 2019-11-01)",
        ),
        ("%Y-%Q-%d", "is not a date format DuckDB understands"),
        ("%Y-%m-%d %z", "has a time zone"),
        ("", "must be a non-empty string"),
    ],
)
def test_bad_date_formats_are_refused(tmp_path: Path, date_format: str, expected: str) -> None:
    message = config_error(
        tmp_path, f"[inputs.sales]\ndate_format = {quote_literal(date_format)}\n"
    )
    assert "date_format in [inputs.sales] of" in message
    assert expected in message


def test_a_date_format_on_an_input_without_dates_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[inputs.customers]\ndate_format = "%Y-%m-%d"\n')
    assert "customers has no date column; remove it" in message


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


# ---------------------------------------------------------------- merging with CLI options

CLI_DEFAULTS = {
    "data_dir": None,
    "duckdb_path": None,
    "target": "duckdb",
    "as_of_date": None,
    "n_segments": 5,
    "random_state": 42,
    "json": False,  # not a run setting: ignored
}


def test_given_options_beat_the_file_which_beats_defaults(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = write_config(
        tmp_path,
        """
        [run]
        data_dir = "data"
        k = 3
        random_state = 7
        as_of_date = "2020-01-01"
        [inputs.customers]
        file = "clients.csv"
        """,
    )
    options = {**CLI_DEFAULTS, "n_segments": 4}
    settings = merge_settings(path, options, {"n_segments"}, data_dir_required=True)
    assert settings == {
        "data_dir": tmp_path / "data",
        "duckdb_path": None,
        "target": "duckdb",
        "as_of_date": "2020-01-01",
        "n_segments": 4,
        "random_state": 7,
        "inputs": load_config(path).inputs,
    }


def test_without_a_file_the_options_pass_through(tmp_path: Path) -> None:
    options = {**CLI_DEFAULTS, "data_dir": tmp_path}
    settings = merge_settings(None, options, {"data_dir"}, data_dir_required=True)
    assert settings == {key: value for key, value in options.items() if key != "json"} | {
        "inputs": None
    }


def test_a_data_folder_is_required_from_one_place_or_the_other(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --data-dir DIR, or set data_dir in the \\[run\\]"):
        merge_settings(None, CLI_DEFAULTS, set(), data_dir_required=True)
    path = write_config(tmp_path, '[run]\ndata_dir = "missing"\n')
    with pytest.raises(ConfigError, match="no such folder .*missing \\(a relative path is taken"):
        merge_settings(path, CLI_DEFAULTS, set(), data_dir_required=True)
    # evaluate: no folder means "use the features already in the warehouse".
    assert merge_settings(None, CLI_DEFAULTS, set(), data_dir_required=False)["data_dir"] is None


# ---------------------------------------------------------------- loading with a mapping


def load_mapped(tmp_path: Path, config_text: str, data: Path) -> duckdb.DuckDBPyConnection:
    """Read the files through the mapping into raw tables, without the input checks.

    These tests look at what the mapping does to names and values; the rules that then judge
    those values (custseg.input_checks) have their own tests in test_bad_input.py.
    """
    config = load_config(write_config(tmp_path / "conf", config_text))
    con = duckdb.connect()
    con.execute("create schema raw")
    for plan in plan_raw_files(con, data, config.inputs):
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
    config = load_config(tmp_path / "conf" / "custseg.toml")
    loaded = load_raw_files(con, data, config.inputs)
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
    config = load_config(
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
    with canary_connection(tmp_path / "w.duckdb") as con:
        # The input checks reject the dates (none matches the odd format), quoting it as text.
        with pytest.raises(InputDataError, match="does not match its date_format"):
            load_raw_files(con, data, config.inputs)
        assert con.execute("select * from main.canary").fetchall() == [(1,)]
        con.execute("create schema raw")
        for plan in plan_raw_files(con, data, config.inputs):
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
    config = load_config(
        write_config(tmp_path / "conf", f"[inputs.taxes.columns]\ngst = {toml_string(hostile)}\n")
    )
    with canary_connection(tmp_path / "w.duckdb") as con:
        with pytest.raises(InputDataError, match="missing column"):
            load_raw_files(con, data, config.inputs)
        assert con.execute("select * from main.canary").fetchall() == [(1,)]


# ---------------------------------------------------------------- the CLI


def test_cli_run_needs_a_data_folder_from_the_flag_or_the_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--project-dir", str(REPO_ROOT)])
    assert result.exit_code == 2
    assert "pass --data-dir DIR, or set data_dir in the [run] table" in result.output
    bad = write_config(tmp_path, "[inputs.custmers]\n")
    result = CliRunner().invoke(cli, ["run", "--config", str(bad), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown input 'custmers'" in result.output


def test_cli_flags_override_the_file_and_the_mapping_reaches_the_loader(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_data(tmp_path / "data")
    path = write_config(
        tmp_path,
        """
        [run]
        data_dir = "data"
        k = 3
        as_of_date = "2020-01-01"
        duckdb_path = "w.duckdb"
        [inputs.taxes.columns]
        gst = "vat_rate"
        """,
    )
    seen = []

    def fake_run(config, progress):  # noqa: ANN001, ANN202 - stands in for run_pipeline
        seen.append(config)
        raise CustsegError("stopped by the test")

    monkeypatch.delenv("CUSTSEG_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("CUSTSEG_TARGET", raising=False)
    monkeypatch.setattr("custseg.pipeline.run_pipeline", fake_run)
    args = ["run", "--config", str(path), "--project-dir", str(project_root), "--k", "4"]
    assert CliRunner().invoke(cli, args).exit_code == 1
    (config,) = seen
    assert (config.data_dir, config.n_segments, config.as_of_date) == (
        data,
        4,
        dt.date(2020, 1, 1),
    )
    assert config.duckdb_path == tmp_path / "w.duckdb"
    assert [spec.key for spec in config.inputs] == ["taxes"]

    monkeypatch.undo()
    # The real loader receives the mapping: the taxes file has no vat_rate column.
    args = ["run", "--config", str(path), "--project-dir", str(project_root)]
    result = CliRunner().invoke(cli, [*args, "--duckdb-path", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 3, result.output
    assert "missing column(s) 'vat_rate' (for gst, set in [inputs.taxes.columns]" in result.output


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
        resolve_run_config(
            data_dir=usual, project_dir=copy_project(root / "p1"), as_of_date="2020-01-01"
        )
    )
    settings = merge_settings(
        config_path, {"data_dir": None, "as_of_date": None}, set(), data_dir_required=True
    )
    mapped = run_pipeline(resolve_run_config(**settings, project_dir=copy_project(root / "p2")))

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
