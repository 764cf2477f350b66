"""Bad input, one case per test: each starts from a good published run and breaks one thing.

A module-scoped template holds a project after a good `custseg run` on generated data (300
customers: the session's ``published_sample``, only ever copied). Each case copies it, mutates
one input file, runs the CLI as a user would and checks what the user sees (exit code and
message naming file, line, column) and what is kept:

- ``reject``: exit 3 before dbt runs; the previous seeds, segments CSV, model, metrics, report,
  mart rows AND raw tables are unchanged, byte for byte and row for row. A broken rule
  (``custseg.ingest.checks``) ends its message with "Nothing was loaded or published: ..."; a file
  that cannot be read at all (missing, empty, no data rows, a missing column, not UTF-8, a
  ragged row: ``custseg.ingest.files``, ``staging``, ``read_errors``) is named without that
  sentence. Each case says which it is;
- ``late``: the input is valid but cannot support a model (exit 3 after the features are built);
  the published files and the mart are unchanged (the raw tables hold the new input);
- ``same``: accepted (with the stated repair, counted); the outputs are byte-identical to a
  second run on the unmodified input;
- ``accept``: accepted with a stated, counted repair or note, checked case by case.

The rules themselves are documented in ``custseg.ingest.rules``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from custseg.cli import cli
from tests.support import (
    CLEAN_ENV,
    PUBLISHED_FILES,
    PUBLISHED_SAMPLE_DATASET,
    PublishedSample,
    comparable,
    copy_project_state,
)

RAW_TABLES = ("customers_data", "online_sales", "discount_coupon", "tax_amount", "marketing_spend")
CSV_FILES = (
    "CustomersData.csv",
    "Online_Sales.csv",
    "Discount_Coupon.csv",
    "Tax_amount.csv",
    "Marketing_Spend.csv",
)
#: A case's settings, written beside its files (see config()).
CONFIG_FILE = "custseg.toml"
#: The last sentence of a rejection for a broken rule (``custseg.ingest.checks``).
NOTHING_LOADED = (
    "Nothing was loaded or published: the previous raw tables, seeds, model and mart are unchanged."
)


# --------------------------------------------------------------------------- the template


@dataclass(frozen=True)
class Template:
    data_dir: Path
    project: Path
    # Outputs and summary of a second run on the unmodified input, from the template's state.
    reference_outputs: dict[str, Any]
    reference_summary: dict[str, Any]


def run_cli(data_dir: Path, project: Path) -> Result:
    # A case that needs a setting writes it into a custseg.toml beside the files.
    config = data_dir / CONFIG_FILE
    extra = ["--config", str(config)] if config.is_file() else []
    return CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(data_dir), "--project-dir", str(project), "--json", *extra]
        # Each case reads a copy of the template's files in a folder of its own: the same
        # dataset as the session's published run, so its model is compared as a refresh is.
        + ["--dataset", PUBLISHED_SAMPLE_DATASET],
        env=CLEAN_ENV,
    )


def outputs(project: Path) -> dict[str, Any]:
    """The published files as two runs of the same input must agree on them (but the run id)."""
    return {name: comparable(project / name) for name in PUBLISHED_FILES}


@pytest.fixture(scope="module")
def template(
    published_sample: PublishedSample, tmp_path_factory: pytest.TempPathFactory
) -> Template:
    # The good published run is the session's (conftest.py): its data, without the answer key.
    base = tmp_path_factory.mktemp("bad_input")
    data_dir = base / "data"
    shutil.copytree(
        published_sample.data_dir,
        data_dir,
        ignore=shutil.ignore_patterns("planted_segments.csv"),
    )
    project = published_sample.root
    reference = copy_project_state(project, base / "reference")
    second = run_cli(data_dir, reference)
    assert second.exit_code == 0, second.output
    return Template(data_dir, project, outputs(reference), json.loads(second.stdout))


@dataclass(frozen=True)
class State:
    files: dict[str, bytes]
    mart: list[tuple[Any, ...]]
    raw: dict[str, list[tuple[Any, ...]]]


def state(project: Path) -> State:
    files = {
        str(path.relative_to(project)): path.read_bytes()
        for folder in ("ml_pipeline/models", "dbt_pipeline/seeds/published")
        for path in sorted((project / folder).rglob("*"))
        if path.is_file()
    }
    with duckdb.connect(str(project / "dbt_pipeline" / "custseg.duckdb")) as con:
        mart = con.execute("select * from fct_customer_segments order by customer_id").fetchall()
        raw = {
            table: con.execute(f"select * from raw.{table} order by all").fetchall()
            for table in RAW_TABLES
        }
    return State(files, mart, raw)


# ------------------------------------------------------------------------- file mutations


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def set_value(file: str, line: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell: ``line`` counts the header as line 1, ``column`` is the header name."""

    def mutate(data: Path) -> None:
        rows = read_rows(data / file)
        rows[line - 1][rows[0].index(column)] = value
        write_rows(data / file, rows)

    return mutate


def append_rows(file: str, make: Callable[[list[list[str]]], list[list[str]]]):
    def mutate(data: Path) -> None:
        rows = read_rows(data / file)
        write_rows(data / file, rows + make(rows))

    return mutate


def every_csv(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        for name in CSV_FILES:
            (data / name).write_bytes(change((data / name).read_bytes()))

    return mutate


def replace_header(file: str, header: str) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        text = (data / file).read_text(encoding="utf-8")
        (data / file).write_text(header + "\n" + text.split("\n", 1)[1], encoding="utf-8")

    return mutate


def drop_column(file: str, column: str) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        rows = read_rows(data / file)
        index = rows[0].index(column)
        write_rows(data / file, [row[:index] + row[index + 1 :] for row in rows])

    return mutate


def add_column(file: str, name: str, value: str) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        rows = read_rows(data / file)
        write_rows(data / file, [rows[0] + [name]] + [row + [value] for row in rows[1:]])

    return mutate


def rename_customers(renames: dict[str, str]) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        for file in ("CustomersData.csv", "Online_Sales.csv"):
            rows = read_rows(data / file)
            for row in rows[1:]:
                row[0] = renames.get(row[0], row[0])
            write_rows(data / file, rows)

    return mutate


#: The settings of a case run with strict_amounts.
STRICT = "[run]\nstrict_amounts = true\n"


def config(text: str) -> Callable[[Path], None]:
    def change(data: Path) -> None:
        (data / CONFIG_FILE).write_text(text)

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(data: Path) -> None:
        for one in changes:
            one(data)

    return change


def mart_without_demographics(project: Path, summary: dict[str, Any], template: Template) -> None:
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        rows = con.execute(
            "select count(*), count(gender), count(location), count(tenure_months) "
            "from fct_customer_segments"
        ).fetchall()
    assert rows == [(summary["n_customers"], 0, 0, 0)], rows


def amounts_are_the_revenue(project: Path, summary: dict[str, Any], template: Template) -> None:
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        ((lines, revenue),) = con.execute(
            "select count(*), sum(invoice_amount) from fct_sales"
        ).fetchall()
    assert revenue == 10 * lines


def semicolons(data: Path) -> None:
    path = data / "CustomersData.csv"
    path.write_text(path.read_text().replace(",", ";"))


def non_utf8(data: Path) -> None:
    rows = read_rows(data / "CustomersData.csv")
    rows[4][2] = "Z\u00fcrich"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (data / "CustomersData.csv").write_bytes(buffer.getvalue().encode("latin-1"))


def ragged_row(data: Path) -> None:
    lines = (data / "Online_Sales.csv").read_text().split("\n")
    cells = lines[3].split(",")
    cells[4] = "Bag, large"  # an unquoted comma: one value too many
    lines[3] = ",".join(cells)
    (data / "Online_Sales.csv").write_text("\n".join(lines))


def keep_customers(count: int) -> Callable[[Path], None]:
    def mutate(data: Path) -> None:
        customers = read_rows(data / "CustomersData.csv")
        sales = read_rows(data / "Online_Sales.csv")
        buyers = []
        for row in sales[1:]:
            if row[0] not in buyers:
                buyers.append(row[0])
        kept = set(buyers[:count])
        write_rows(
            data / "CustomersData.csv", [customers[0]] + [r for r in customers[1:] if r[0] in kept]
        )
        write_rows(data / "Online_Sales.csv", [sales[0]] + [r for r in sales[1:] if r[0] in kept])

    return mutate


def identical_customers(data: Path) -> None:
    customers = read_rows(data / "CustomersData.csv")[:51]
    write_rows(data / "CustomersData.csv", customers)
    sales = [read_rows(data / "Online_Sales.csv")[0]] + [
        [row[0], str(50000 + i), "6/1/2019", "SKU1", "Mug", "Drinkware", "1", "10", "5", "Used"]
        for i, row in enumerate(customers[1:])
    ]
    write_rows(data / "Online_Sales.csv", sales)


def values_holding_line_breaks(file: str, lines: tuple[int, ...], column: str):
    """Quoted values holding a line break on the given lines: later lines move down."""

    def mutate(data: Path) -> None:
        rows = read_rows(data / file)
        index = rows[0].index(column)
        for line in lines:
            rows[line - 1][index] += "\nsecond line"
        write_rows(data / file, rows)

    return mutate


def unclosed_quote(data: Path) -> None:
    lines = (data / "Online_Sales.csv").read_text().split("\n")
    cells = lines[39].split(",")
    cells[4] = '"' + cells[4]  # line 40 opens a quote that nothing closes
    lines[39] = ",".join(cells)
    (data / "Online_Sales.csv").write_text("\n".join(lines))


def ids_holding_the_order_separator(data: Path) -> None:
    """Customer 'A|' buying in transaction T and customer 'A' in transaction '|T': joined with
    '|' alone, both orders would be 'A||T'."""
    sales = read_rows(data / "Online_Sales.csv")
    first, second = sales[1][0], next(row[0] for row in sales[1:] if row[0] != sales[1][0])
    rename_customers({first: "A|", second: "A"})(data)
    sales = read_rows(data / "Online_Sales.csv")
    transaction = sales[1][1]
    line = next(row for row in sales[1:] if row[0] == "A")
    line[1] = "|" + transaction
    write_rows(data / "Online_Sales.csv", sales)


def order_ids_stay_distinct(project: Path, summary: dict[str, Any], template: Template) -> None:
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        orders = con.execute(
            "select distinct customer_id, transaction_id, order_id from fct_sales "
            "where customer_id in ('A', 'A|') and transaction_id like '%|%' or "
            "customer_id = 'A|' order by 1, 2"
        ).fetchall()
    escaped = [order for customer, transaction, order in orders if customer == "A|"]
    assert escaped and all(order.startswith("A\\||") for order in escaped), orders
    (plain,) = [order for customer, _, order in orders if customer == "A"]
    assert plain.startswith("A||"), orders
    assert plain not in escaped


# ---------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    mutate: Callable[[Path], None]
    # reject | late | same | accept
    kind: str
    # Text the output must contain (file, line, column, value, rule).
    expected: tuple[str, ...] = ()
    # For accepted input: text one of the reported repairs must contain.
    repairs: tuple[str, ...] = ()
    check: Callable[[Path, dict[str, Any], Template], None] | None = field(default=None)
    # For a rejection: whether the message ends with NOTHING_LOADED (a broken rule) or names a
    # file that could not be read, without that sentence.
    says_nothing_loaded: bool = True


def ids_survive(project: Path, summary: dict[str, Any], template: Template) -> None:
    csv_text = (project / "ml_pipeline/models/customer_segments.csv").read_text()
    assert "\n0017," in csv_text and "\nC-42," in csv_text
    seed = (project / "dbt_pipeline/seeds/published/customer_segments.csv").read_text()
    assert "\n0017," in seed and "\nC-42," in seed
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        ids = {
            row[0]
            for row in con.execute(
                "select customer_id from fct_customer_segments "
                "where customer_id in ('0017', 'C-42', '17', '42')"
            ).fetchall()
        }
    assert ids == {"0017", "C-42"}


def line_9_is_skipped(project: Path, summary: dict[str, Any], template: Template) -> None:
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb")) as con:
        ((lines, line_9),) = con.execute(
            "select count(*), count(*) filter (where file_line_number = 9) from raw.online_sales"
        ).fetchall()
    before = len(read_rows(template.data_dir / "Online_Sales.csv")) - 1
    # The template's sample holds 22 exact duplicate lines, dropped as ever.
    assert (lines, line_9) == (before - 22 - 1, 0)


def one_more_product_line(project: Path, summary: dict[str, Any], template: Template) -> None:
    def count(repairs: list[str]) -> int:
        (note,) = [r for r in repairs if "more than one line of the same order" in r]
        return int(note.split(": ", 1)[1].split(" ")[0].replace(",", ""))

    assert count(summary["repairs"]) == count(template.reference_summary["repairs"]) + 1


def _customer_line(rows: list[list[str]]) -> list[list[str]]:
    return [list(rows[1])]


CASES: dict[str, Case] = {
    # ---- the file as a whole
    "utf8_byte_order_mark": Case(every_csv(lambda b: b"\xef\xbb\xbf" + b), "same"),
    "windows_line_endings": Case(every_csv(lambda b: b.replace(b"\n", b"\r\n")), "same"),
    "header_with_stray_spaces_and_case": Case(
        replace_header(
            "Online_Sales.csv",
            " customerid ,Transaction_ID , TRANSACTION_DATE,Product_SKU,Product_Description,"
            "Product_Category,Quantity ,Avg_Price,Delivery_Charges,  Coupon_Status",
        ),
        "same",
    ),
    "semicolon_delimiter": Case(
        semicolons,
        "reject",
        ("CustomersData.csv", "missing column(s) customerid", "';'"),
        says_nothing_loaded=False,
    ),
    "missing_column": Case(
        drop_column("Online_Sales.csv", "Avg_Price"),
        "reject",
        ("Online_Sales.csv", "missing column(s) avg_price"),
        says_nothing_loaded=False,
    ),
    "renamed_column": Case(
        replace_header(
            "Online_Sales.csv",
            "CustomerID,Transaction_ID,Transaction_Date,Product_SKU,Product_Description,"
            "Product_Category,Qty,Avg_Price,Delivery_Charges,Coupon_Status",
        ),
        "reject",
        ("Online_Sales.csv", "missing column(s) quantity", "Found header: ", "Qty"),
        says_nothing_loaded=False,
    ),
    "extra_column": Case(
        add_column("Online_Sales.csv", "Notes", "gift"),
        "same",
        repairs=("Online_Sales.csv: ignored 1 extra column(s) ('Notes')",),
    ),
    # DuckDB renames the second to QUANTITY_1 and one of the two would be read silently.
    "same_column_twice_in_other_case": Case(
        add_column("Online_Sales.csv", " QUANTITY", "999"),
        "reject",
        (
            "Online_Sales.csv line 1 (the header): 2 columns, 'Quantity' and ' QUANTITY', are "
            "the same column 'quantity'",
            "Remove or rename the extra column",
        ),
        says_nothing_loaded=False,
    ),
    "extra_column_with_a_hostile_name": Case(
        add_column("CustomersData.csv", 'x"; drop table raw.customers_data; --', "1"),
        "same",
        repairs=("CustomersData.csv: ignored 1 extra column(s) ('x\"; drop table",),
    ),
    "empty_file": Case(
        lambda d: (d / "Tax_amount.csv").write_bytes(b""),
        "reject",
        ("Tax_amount.csv: the file is empty (0 bytes",),
        says_nothing_loaded=False,
    ),
    "headers_only": Case(
        lambda d: (d / "Marketing_Spend.csv").write_text("Date,Offline_Spend,Online_Spend\n"),
        "reject",
        ("Marketing_Spend.csv: the file has no data rows",),
        says_nothing_loaded=False,
    ),
    # ---- optional inputs and the settings of an order log
    "missing_coupon_file": Case(
        lambda d: (d / "Discount_Coupon.csv").unlink(),
        "accept",
        repairs=("Discount_Coupon: not given (no Discount_Coupon.csv or .parquet in",),
    ),
    "missing_customer_file": Case(
        lambda d: (d / "CustomersData.csv").unlink(),
        "accept",
        repairs=("CustomersData: not given", "gender, location and tenure_months are null"),
        check=mart_without_demographics,
    ),
    "missing_sales_file": Case(
        lambda d: (d / "Online_Sales.csv").unlink(),
        "reject",
        ("no Online_Sales.csv or Online_Sales.parquet found",),
        says_nothing_loaded=False,
    ),
    "line_amounts_are_the_revenue": Case(
        add_column("Online_Sales.csv", "Amount", "10.00"),
        "accept",
        check=amounts_are_the_revenue,
    ),
    "line_amount_not_a_number": Case(
        both(
            add_column("Online_Sales.csv", "Amount", "10.00"),
            set_value("Online_Sales.csv", 7, "Amount", "12,50"),
        ),
        "reject",
        ("Online_Sales.csv line 7, column amount: '12,50' is not a number",),
    ),
    "wrong_delimiter_setting": Case(
        config('[inputs.sales]\ndelimiter = ";"\n'),
        "reject",
        (
            "Online_Sales.csv: missing column(s) customerid, transaction_date",
            "The header was read as one column: the file looks delimited by ',', not ';'; set "
            'delimiter = ","',
        ),
        says_nothing_loaded=False,
    ),
    "date_format_setting_not_matched": Case(
        config('[inputs.sales]\ndate_format = "YYYYMMDD"\n'),
        "reject",
        (
            "Online_Sales.csv line 2, column transaction_date: ",
            "does not match its date_format 'YYYYMMDD' (custseg.toml)",
        ),
    ),
    "non_utf8_file": Case(
        non_utf8,
        "reject",
        ("CustomersData.csv line 5: not UTF-8 text (byte 0xFC", "UTF-8"),
        says_nothing_loaded=False,
    ),
    "row_with_a_value_too_many": Case(
        ragged_row,
        "reject",
        ("Online_Sales.csv line 4: 11 values where the header has 10",),
        says_nothing_loaded=False,
    ),
    # Messages name the line of the file, after values holding line breaks too.
    "line_numbers_after_values_holding_line_breaks": Case(
        lambda d: [
            set_value("Online_Sales.csv", 20, "Quantity", "-1")(d),
            values_holding_line_breaks("Online_Sales.csv", (3, 4, 5), "Product_Description")(d),
        ],
        "reject",
        ("Online_Sales.csv line 23, column quantity: '-1' must be greater than 0",),
    ),
    "line_numbers_in_a_small_table_after_a_line_break": Case(
        lambda d: [
            set_value("Discount_Coupon.csv", 10, "Discount_pct", "120")(d),
            values_holding_line_breaks("Discount_Coupon.csv", (2,), "Coupon_Code")(d),
        ],
        "reject",
        ("Discount_Coupon.csv line 11, column discount_pct: '120' is not a percentage",),
    ),
    "unclosed_quote": Case(
        unclosed_quote,
        "reject",
        ("Online_Sales.csv line 40: ", "a quote on line 40 is never closed"),
        says_nothing_loaded=False,
    ),
    # ---- customers
    "ids_with_leading_zeros_and_letters": Case(
        rename_customers({"12346": "0017", "12347": "C-42"}), "accept", check=ids_survive
    ),
    "empty_customer_id_in_sales": Case(
        set_value("Online_Sales.csv", 2, "CustomerID", ""),
        "reject",
        ("Online_Sales.csv line 2, column customerid: (empty) is empty",),
    ),
    # The order id joins customer and transaction id with '|': an id holding '|' must not make
    # two orders one (dbt's unique test on order_id would fail naming no file or line).
    "ids_holding_the_order_id_separator": Case(
        ids_holding_the_order_separator, "accept", check=order_ids_stay_distinct
    ),
    "same_customer_with_different_values": Case(
        append_rows(
            "CustomersData.csv", lambda rows: [[rows[1][0], rows[1][1], "Ohio", rows[1][3]]]
        ),
        "reject",
        (
            "CustomersData.csv lines 2 and 302, column location: the same customer id "
            "('12346') appears with 'Chicago' and 'Ohio'",
        ),
    ),
    "same_customer_twice_exactly": Case(
        append_rows("CustomersData.csv", _customer_line),
        "same",
        repairs=("CustomersData.csv: dropped 1 exact duplicate line(s) (line 302)",),
    ),
    "sales_of_a_customer_missing_from_the_customer_file": Case(
        set_value("Online_Sales.csv", 3, "CustomerID", "99999"),
        "reject",
        (
            "Online_Sales.csv line 3, column customerid: '99999' is not a customer of "
            "CustomersData.csv",
        ),
    ),
    "customers_with_no_sales": Case(
        append_rows(
            "CustomersData.csv",
            lambda rows: [[f"N{i}", "F", "Chicago", "3"] for i in range(3)],
        ),
        "same",
        repairs=("CustomersData.csv: 3 customer(s) have no sales line (e.g. 'N0'",),
    ),
    "gender_not_m_or_f": Case(
        set_value("CustomersData.csv", 3, "Gender", "X"),
        "reject",
        ("CustomersData.csv line 3, column gender: 'X' is not M or F",),
    ),
    # The rules accept a blank gender as unknown; staging must read it as null too, not as ''.
    "blank_gender": Case(set_value("CustomersData.csv", 3, "Gender", "  "), "same"),
    "negative_tenure": Case(
        set_value("CustomersData.csv", 4, "Tenure_Months", "-3"),
        "reject",
        ("CustomersData.csv line 4, column tenure_months: '-3' is not a whole number",),
    ),
    # ---- sales values
    "unparseable_date": Case(
        set_value("Online_Sales.csv", 5, "Transaction_Date", "13/45/2019"),
        "reject",
        ("Online_Sales.csv line 5, column transaction_date: '13/45/2019' is not a real date",),
    ),
    "impossible_date": Case(
        set_value("Online_Sales.csv", 6, "Transaction_Date", "2/30/2019"),
        "reject",
        ("Online_Sales.csv line 6, column transaction_date: '2/30/2019' is not a real date",),
    ),
    "iso_date_instead_of_month_day_year": Case(
        set_value("Online_Sales.csv", 7, "Transaction_Date", "2019-01-05"),
        "reject",
        ("Online_Sales.csv line 7, column transaction_date: '2019-01-05'", "M/D/YYYY"),
    ),
    "negative_quantity": Case(
        set_value("Online_Sales.csv", 2, "Quantity", "-2"),
        "reject",
        ("Online_Sales.csv line 2, column quantity: '-2' must be greater than 0",),
    ),
    # A line worth nothing stops the run only with strict_amounts; by default it is skipped.
    "zero_quantity_with_strict_amounts": Case(
        both(set_value("Online_Sales.csv", 8, "Quantity", "0"), config(STRICT)),
        "reject",
        ("Online_Sales.csv line 8, column quantity: '0' must be greater than 0",),
    ),
    "negative_price": Case(
        set_value("Online_Sales.csv", 2, "Avg_Price", "-6.55"),
        "reject",
        ("Online_Sales.csv line 2, column avg_price: '-6.55' must be greater than 0",),
    ),
    "zero_price_with_strict_amounts": Case(
        both(set_value("Online_Sales.csv", 9, "Avg_Price", "0"), config(STRICT)),
        "reject",
        ("Online_Sales.csv line 9, column avg_price: '0' must be greater than 0",),
    ),
    "zero_price_is_skipped": Case(
        set_value("Online_Sales.csv", 9, "Avg_Price", "0"),
        "accept",
        repairs=("Online_Sales.csv: skipped 1 line(s) worth nothing (1 with avg_price 0; line 9)",),
        check=line_9_is_skipped,
    ),
    "nan_amount": Case(
        set_value("Online_Sales.csv", 2, "Avg_Price", "NaN"),
        "reject",
        ("Online_Sales.csv line 2, column avg_price: 'NaN' is not a number",),
    ),
    "empty_amount": Case(
        set_value("Online_Sales.csv", 10, "Quantity", ""),
        "reject",
        ("Online_Sales.csv line 10, column quantity: (empty) is not a number",),
    ),
    "decimal_comma_amount": Case(
        set_value("Online_Sales.csv", 2, "Avg_Price", "6,55"),
        "reject",
        ("Online_Sales.csv line 2, column avg_price: '6,55' is not a number",),
    ),
    "negative_delivery_charge": Case(
        set_value("Online_Sales.csv", 2, "Delivery_Charges", "-1"),
        "reject",
        ("Online_Sales.csv line 2, column delivery_charges: '-1' must be 0 or more",),
    ),
    "unknown_coupon_status": Case(
        set_value("Online_Sales.csv", 11, "Coupon_Status", "used"),
        "reject",
        ("Online_Sales.csv line 11, column coupon_status: 'used' is not one of Used",),
    ),
    "many_broken_values_are_all_listed": Case(
        lambda d: [
            set_value("Online_Sales.csv", 2, "Quantity", "-1")(d),
            set_value("Online_Sales.csv", 3, "Quantity", "-1")(d),
            set_value("Tax_amount.csv", 2, "GST", "10")(d),
        ],
        "reject",
        (
            "Online_Sales.csv line 2, column quantity: '-1' must be greater than 0. 2 lines "
            "break this rule (lines 2, 3).",
            "Also broken:\n  Tax_amount.csv line 2, column gst: '10' is not a fraction",
        ),
    ),
    "duplicated_sales_lines": Case(
        append_rows("Online_Sales.csv", lambda rows: [list(rows[i]) for i in (1, 2, 3)]),
        "same",
        repairs=("Online_Sales.csv: dropped 25 exact duplicate line(s)",),
    ),
    "same_order_line_with_different_amounts": Case(
        append_rows("Online_Sales.csv", lambda rows: [rows[1][:6] + ["7"] + rows[1][7:]]),
        "accept",
        check=one_more_product_line,
    ),
    "category_with_no_gst": Case(
        set_value("Online_Sales.csv", 4, "Product_Category", "Gadgets"),
        "reject",
        (
            "Online_Sales.csv line 4, column product_category: 'Gadgets' is not a category of "
            "Tax_amount.csv (it has no GST)",
        ),
    ),
    # Amounts are stored as decimal(38, 10) in dbt: they must stay below 10^28.
    "quantity_too_large_for_the_warehouse": Case(
        set_value("Online_Sales.csv", 5, "Quantity", "1" + "0" * 29),
        "reject",
        (
            "Online_Sales.csv line 5, column quantity: '100000000000000000000000000000' (with "
            "avg_price",
            "must stay below 10^28 (dbt stores invoice amounts as decimal(38, 10))",
        ),
    ),
    # The as-of date, the day after the last sale, must be a date too.
    "sale_on_the_last_day_a_date_can_hold": Case(
        set_value("Online_Sales.csv", 12, "Transaction_Date", "12/31/9999"),
        "reject",
        ("Online_Sales.csv line 12, column transaction_date: '12/31/9999' is the last day",),
    ),
    # ---- the small tables
    # Coupons and GST are looked up by exact category: 'office' would drop every discount.
    "coupon_category_in_other_case": Case(
        lambda d: (d / "Discount_Coupon.csv").write_text(
            (d / "Discount_Coupon.csv").read_text().replace(",Office,", ",office,")
        ),
        "reject",
        (
            "Discount_Coupon.csv line 3, column product_category: 'office' is not written as "
            "any category of Online_Sales.csv, which has 'Office' (line ",
            "12 line(s) break this rule (lines 3, 19, 35, 51, 67, ...)",
        ),
    ),
    "gst_category_in_other_case": Case(
        set_value("Tax_amount.csv", 3, "Product_Category", " OFFICE "),
        "reject",
        (
            "Tax_amount.csv line 3, column product_category: 'OFFICE' is not written as any "
            "category of Online_Sales.csv, which has 'Office' (line ",
            "column product_category: 'Office' is not in Tax_amount.csv",
        ),
    ),
    "coupon_for_a_category_never_sold": Case(
        append_rows("Discount_Coupon.csv", lambda rows: [["Jan", "Gadgets", "GAD10", "10"]]),
        "same",
        repairs=(
            "Discount_Coupon.csv: 1 line(s) name a category no sales line has ('Gadgets'; first "
            "at line 194); their coupon applies to no sale.",
        ),
    ),
    "gst_written_as_percent": Case(
        set_value("Tax_amount.csv", 3, "GST", "18"),
        "reject",
        ("Tax_amount.csv line 3, column gst: '18' is not a fraction between 0 and 1",),
    ),
    "same_gst_category_twice_with_different_rates": Case(
        append_rows("Tax_amount.csv", lambda rows: [[rows[1][0], "0.2"]]),
        "reject",
        ("Tax_amount.csv lines 2 and 22, column gst: the same category ('Nest-USA')",),
    ),
    "unknown_coupon_month": Case(
        set_value("Discount_Coupon.csv", 2, "Month", "Sept"),
        "reject",
        ("Discount_Coupon.csv line 2, column month: 'Sept' is not a month written Jan..Dec",),
    ),
    "discount_over_100_percent": Case(
        set_value("Discount_Coupon.csv", 3, "Discount_pct", "120"),
        "reject",
        ("Discount_Coupon.csv line 3, column discount_pct: '120' is not a percentage",),
    ),
    "impossible_marketing_date": Case(
        set_value("Marketing_Spend.csv", 60, "Date", "2/29/2019"),
        "reject",
        ("Marketing_Spend.csv line 60, column date: '2/29/2019' is not a real date",),
    ),
    # ---- valid files that cannot support a model
    "fewer_customers_than_k": Case(
        keep_customers(3), "late", ("Cannot form 5 segments from 3 customer(s)",)
    ),
    "all_customers_identical": Case(identical_customers, "late", ("have only 1 distinct profile",)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, template: Template, tmp_path: Path) -> None:
    case = CASES[name]
    data = tmp_path / "data"
    shutil.copytree(template.data_dir, data)
    project = copy_project_state(template.project, tmp_path / "project")
    before = state(project)
    case.mutate(data)

    result = run_cli(data, project)
    output = result.stderr  # stdout holds the --json answer

    if case.kind in {"reject", "late"}:
        assert result.exit_code == 3, output
        assert output.startswith("Error: "), output
        assert json.loads(result.stdout) == {
            "error": output[len("Error: ") :].rstrip("\n"),
            "exit_code": 3,
        }
        for text in case.expected:
            assert text in output, f"{text!r} not in:\n{output}"
        after = state(project)
        assert after.files == before.files
        assert after.mart == before.mart
        if case.kind == "reject" and case.says_nothing_loaded:
            assert output.endswith(NOTHING_LOADED + "\n"), output
            assert output.count("Nothing was loaded") == 1, output
        else:
            # A late rejection has replaced the raw tables, so it must not claim otherwise.
            assert "Nothing was loaded" not in output, output
        if case.kind == "reject":
            assert after.raw == before.raw
        else:
            assert after.raw != before.raw
        return

    assert result.exit_code == 0, output
    summary = json.loads(result.stdout)
    for text in case.repairs:
        assert any(text in repair for repair in summary["repairs"]), (text, summary["repairs"])
    if case.kind == "same":
        assert outputs(project) == template.reference_outputs
    if case.check is not None:
        case.check(project, summary, template)


def test_the_real_shaped_sample_reports_its_repairs(template: Template) -> None:
    repairs = template.reference_summary["repairs"]
    assert any("dropped 22 exact duplicate line(s)" in r for r in repairs), repairs
    assert not any("CustomersData.csv" in r for r in repairs)


def test_a_one_gigabyte_line_fails_fast_and_is_cleaned_up(
    template: Template, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(template.data_dir, data)
    project = copy_project_state(template.project, tmp_path / "project")
    before = state(project)
    sales = data / "Online_Sales.csv"
    lines = sales.read_bytes().split(b"\n")
    try:
        with open(sales, "wb") as handle:
            handle.write(lines[0] + b"\n" + lines[1] + b"\n")
            handle.write(b"12346,99999,1/1/2019,SKU1,")
            handle.seek(1 << 30, 1)  # a 1 GiB hole: read back as NUL bytes, costs no disk
            handle.write(b",Apparel,1,1,0,Used\n" + b"\n".join(lines[2:]))
        assert sales.stat().st_size > 1 << 30
        read_before = bytes_read()
        result = run_cli(data, project)
        read = bytes_read() - read_before
    finally:
        sales.unlink()
    assert result.exit_code == 3, result.output
    assert "Online_Sales.csv line 3: longer than 2,000,000 bytes" in result.stderr
    assert "Nothing was loaded" not in result.stderr  # a read error, not a broken rule
    assert len(result.stderr) < 2000  # the line itself is never echoed
    # Failing fast means giving up near the 2,000,000-byte limit, not after reading the line:
    # the whole run reads less than a quarter of it (measured: 66 MB, mostly DuckDB's two 32 MB
    # read buffers; reading the line even once would be 1 GiB).
    assert read < 1 << 28, f"{read:,} bytes read"
    assert state(project) == before


def bytes_read() -> int:
    """Bytes this process (every thread, DuckDB's included) has read so far, from Linux."""
    io = Path("/proc/self/io")
    if not io.exists():
        pytest.skip("counting the bytes a run reads needs Linux's /proc/self/io")
    for line in io.read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("/proc/self/io has no rchar line")
