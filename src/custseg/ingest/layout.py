"""The five raw inputs: which files custseg reads, which columns it takes, where they land.

Every input is laid out like the Marketing Insights dataset by default; a ``custseg.toml`` may
rename its file and columns and say how its dates are written (:mod:`custseg.ingest.mapping`).

Only the sales are required, and of their columns only the customer id, the date and the
revenue of the line (``amount``, or ``quantity`` and ``avg_price``): a plain order log is enough.
The other inputs (customers, coupons, taxes, marketing spend) are enrichments; an input that is
not given still becomes its raw table, empty, and a sales column that is not given a column of
nulls, so that the dbt project has one staging path on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Schema of the raw tables in every warehouse (dbt's sources read it).
RAW_SCHEMA = "raw"
#: Suffixes of the usual file names (CustomersData.csv or CustomersData.parquet, ...).
SUPPORTED_SUFFIXES = (".csv", ".parquet")
#: Suffixes a configured file may have: delimited text (see DELIMITERS) or Parquet.
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
FILE_SUFFIXES = (*TEXT_SUFFIXES, ".parquet")
#: What separates the values of a text file: ``delimiter`` in an ``[inputs.<key>]`` table ->
#: the character DuckDB splits on; "whitespace" splits on runs of spaces and tabs (quotes are
#: then plain characters).
DELIMITERS = {",": ",", ";": ";", "|": "|", "tab": "\t", "\t": "\t", "whitespace": "whitespace"}
DEFAULT_DELIMITER = ","
#: Column the loader adds to tables that keep line numbers (the sales lines; header = line 1).
LINE_COLUMN = "file_line_number"

#: Columns holding ids: text end to end. A Parquet file storing one as a floating-point or
#: decimal number gets the whole number's text (12346.0 becomes 12346); see ingest.files.
ID_COLUMNS = ("customerid", "transaction_id", "product_sku")

#: How dates are written when nothing is configured: M/D/YYYY, what staging parses.
DEFAULT_DATE_FORMAT = "%m/%d/%Y"
#: What a typed or configured date becomes before the raw tables are written (text engines).
CANONICAL_DATE_FORMAT = "%-m/%-d/%Y"
#: Start of the text a date that does not match its configured format becomes. Staging cannot
#: parse it (so its not_null test fails), and it still shows the value and the format.
UNPARSED_DATE_PREFIX = "unparseable with date_format "


@dataclass(frozen=True)
class RawTable:
    """One raw input: the file stem users provide and the table it becomes."""

    file_stem: str
    table_name: str
    columns: tuple[str, ...]
    # Columns holding dates; Parquet files may store them typed, CSV files as M/D/YYYY text.
    date_columns: tuple[str, ...] = ()
    # Keep the file line of each row so errors can point at it.
    keep_line_numbers: bool = False
    # Columns every file of this input must hold; None = all of them. The others are null
    # when the file has no such column.
    required_columns: tuple[str, ...] | None = None
    # Whether the input may be left out (its raw table is then empty).
    optional: bool = True

    def is_required(self, column: str) -> bool:
        """Whether a file of this input must hold ``column``."""
        return self.required_columns is None or column in self.required_columns


RAW_TABLES: tuple[RawTable, ...] = (
    RawTable(
        "CustomersData",
        "customers_data",
        ("customerid", "gender", "location", "tenure_months"),
    ),
    RawTable(
        "Online_Sales",
        "online_sales",
        (
            "customerid",
            "transaction_id",
            "transaction_date",
            "product_sku",
            "product_description",
            "product_category",
            "quantity",
            "avg_price",
            "delivery_charges",
            "coupon_status",
            # The line's revenue as the file gives it; when present it is the revenue, whatever
            # the other columns say (last, so that older raw tables only lack a last column).
            "amount",
        ),
        date_columns=("transaction_date",),
        keep_line_numbers=True,
        required_columns=("customerid", "transaction_date"),
        optional=False,
    ),
    RawTable(
        "Discount_Coupon",
        "discount_coupon",
        ("month", "product_category", "coupon_code", "discount_pct"),
    ),
    RawTable("Tax_amount", "tax_amount", ("product_category", "gst")),
    RawTable(
        "Marketing_Spend",
        "marketing_spend",
        ("date", "offline_spend", "online_spend"),
        date_columns=("date",),
    ),
)

#: The columns giving a sales line's revenue: the amount, else quantity times price.
REVENUE_COLUMNS = (("amount",), ("quantity", "avg_price"))

#: Friendly input key in the config file -> raw table it becomes.
INPUT_KEYS: dict[str, str] = {
    "customers": "customers_data",
    "sales": "online_sales",
    "coupons": "discount_coupon",
    "taxes": "tax_amount",
    "marketing_spend": "marketing_spend",
}


def raw_table(key: str) -> RawTable:
    """The raw input of a config key (``customers``, ``sales``, ...)."""
    return next(table for table in RAW_TABLES if table.table_name == INPUT_KEYS[key])


def input_key(table: RawTable) -> str:
    """The config key of a raw input."""
    return next(key for key, name in INPUT_KEYS.items() if name == table.table_name)


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is read as Parquet (any other file is delimited text)."""
    return path.suffix.lower() == ".parquet"


def normalize_column(name: str) -> str:
    """Header names match whatever their case and surrounding spaces."""
    return name.strip().lower()


@dataclass(frozen=True)
class LoadedTable:
    """What one file contributed to the raw schema."""

    table_name: str
    # The file read; None when the input was not given (its raw table is empty).
    source_path: Path | None
    row_count: int
    ignored_columns: tuple[str, ...]
    # What custseg repaired or noted in this file (see custseg.ingest.repairs), for the summary.
    repairs: tuple[str, ...] = ()
