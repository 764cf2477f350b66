"""Load the five raw e-commerce files into the warehouse's ``raw`` schema.

Nothing is guessed here: a CSV file lands as text (DuckDB reads it with ``all_varchar``), and
staging models type it. A Parquet file already says what its columns are: on DuckDB they land with
those types (numbers, dates, text), which spares converting 50 million values to text and parsing
them back (see ``kept_type``); the engines loaded through a text export (PostgreSQL, Spark) get
text as from a CSV. Staging reads either (``macros/raw_columns.sql``). Header names are trimmed
and lower-cased (the real ``Discount_Coupon.csv`` has a header with a trailing space). All five
tables are replaced in one transaction: a file that fails to load leaves the previous raw tables
as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from custseg.errors import InputDataError
from custseg.input_checks import check_loaded_tables
from custseg.read_errors import check_not_empty, read_error

if TYPE_CHECKING:
    from custseg.input_config import InputSpec

RAW_SCHEMA = "raw"
SUPPORTED_SUFFIXES = (".csv", ".parquet")


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
        ),
        date_columns=("transaction_date",),
        keep_line_numbers=True,
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


@dataclass(frozen=True)
class LoadedTable:
    """What one file contributed to the raw schema."""

    table_name: str
    source_path: Path
    row_count: int
    ignored_columns: tuple[str, ...]
    # What custseg repaired or noted in this file (input_checks), for the run summary.
    repairs: tuple[str, ...] = ()


def quote_identifier(name: str) -> str:
    """Quote an identifier for SQL so that no name can break out of it."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + value.replace("'", "''") + "'"


def find_input_file(data_dir: Path, table: RawTable) -> Path:
    """Return the one ``.csv`` or ``.parquet`` file for ``table`` in ``data_dir``."""
    candidates = [
        data_dir / f"{table.file_stem}{suffix}"
        for suffix in SUPPORTED_SUFFIXES
        if (data_dir / f"{table.file_stem}{suffix}").is_file()
    ]
    if not candidates:
        raise InputDataError(
            f"{data_dir}: no {table.file_stem}.csv or {table.file_stem}.parquet found. "
            f"Provide the file, laid out like the Marketing Insights dataset "
            f"(columns: {', '.join(table.columns)})."
        )
    if len(candidates) > 1:
        raise InputDataError(
            f"{data_dir}: both {candidates[0].name} and {candidates[1].name} exist; "
            "keep only one so it is clear which to load."
        )
    return candidates[0]


def _scan_sql(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        # Comma-delimited, header required, everything as text: no type sniffing.
        return (
            f"read_csv({quote_literal(str(path))}, header = true, delim = ',', quote = '\"', "
            "escape = '\"', all_varchar = true, auto_detect = true)"
        )
    return f"read_parquet({quote_literal(str(path))})"


def _describe(con: duckdb.DuckDBPyConnection, scan: str, path: Path) -> list[tuple[str, str]]:
    check_not_empty(path)
    try:
        rows = con.execute(f"describe select * from {scan}").fetchall()
    except duckdb.Error as exc:
        raise read_error(path, exc) from exc
    return [(str(row[0]), str(row[1])) for row in rows]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _select_list(
    table: RawTable, found: Sequence[tuple[str, str]], path: Path, *, keep_types: bool
) -> tuple[str, ...]:
    """Map the file's columns to ours; return the SELECT expressions, one per expected column."""
    by_normalized: dict[str, tuple[str, str]] = {}
    for name, type_name in found:
        by_normalized.setdefault(name.strip().lower(), (name, type_name))
    missing = [column for column in table.columns if column not in by_normalized]
    if missing:
        header = ", ".join(name for name, _ in found)
        hint = ""
        if len(found) == 1 and (";" in found[0][0] or "\t" in found[0][0]):
            hint = " The file looks delimited by ';' or tabs: save it comma-separated."
        raise InputDataError(
            f"{path}: missing column(s) {', '.join(missing)}. Found header: {header}. "
            f"Expected: {', '.join(table.columns)} "
            f"(case and surrounding spaces do not matter).{hint}"
        )
    expressions = []
    for column in table.columns:
        name, type_name = by_normalized[column]
        source = quote_identifier(name)
        is_date_column = column in table.date_columns
        kept = kept_type(source, type_name, is_date_column=is_date_column) if keep_types else None
        if kept is not None:
            expression = kept
        elif is_date_column and type_name.upper().startswith(("DATE", "TIMESTAMP")):
            expression = f"strftime({source}, '%-m/%-d/%Y')"
        else:
            expression = f"cast({source} as varchar)"
        expressions.append(f"{expression} as {quote_identifier(column)}")
    return tuple(expressions)


#: DuckDB types a raw column keeps when types are kept: whole and decimal numbers, dates, text.
#: Anything else (booleans, lists, blobs...) becomes text, which the input checks then judge.
_KEPT_TYPES = re.compile(
    r"(VARCHAR|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|DECIMAL\(\d+,\s*\d+\)|DATE)",
    re.IGNORECASE,
)


def kept_type(source: str, type_name: str, *, is_date_column: bool) -> str | None:
    """The SELECT expression keeping a typed file column as it is, or None to make it text.

    A date column keeps a date, and a timestamp becomes its date (the time of day is not used);
    written dates stay text, to be read by their format. Other columns keep numbers and text;
    any other type becomes text, whose odd value the checks then name.
    """
    type_name = type_name.strip().upper()
    if is_date_column:
        if type_name == "DATE":
            return source
        return f"cast({source} as date)" if type_name.startswith("TIMESTAMP") else None
    if type_name == "DATE" or not _KEPT_TYPES.fullmatch(type_name):
        return None
    return source


def _ignored_columns(table: RawTable, found: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(name for name, _ in found if name.strip().lower() not in table.columns)


@dataclass(frozen=True)
class RawFilePlan:
    """How one input file becomes one raw table: a DuckDB SELECT producing its columns."""

    table: RawTable
    source_path: Path
    select_sql: str
    ignored_columns: tuple[str, ...]


def plan_raw_files(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    inputs: Sequence[InputSpec] | None = None,
    *,
    keep_types: bool = False,
) -> list[RawFilePlan]:
    """Find, read and check the header of every input file; nothing is written.

    Every engine reads the files through DuckDB (CSV or Parquet, header names trimmed and
    lower-cased), so the same rules and messages apply whatever the warehouse. Values become
    text, except that with ``keep_types`` typed (Parquet) columns keep their number, date or text
    type (see :func:`kept_type`).
    ``inputs`` (from a ``custseg.toml``, see ``input_config``) renames files and columns and
    converts configured date formats to M/D/YYYY; inputs without a spec load as usual.

    Raises
    ------
    InputDataError
        A file is missing, unreadable or lacks a column; the message names file and column.
    """
    if not data_dir.is_dir():
        raise InputDataError(f"{data_dir}: data folder not found.")
    plans = []
    specs = {spec.table.table_name: spec for spec in inputs or ()}
    for table in RAW_TABLES:
        spec = specs.get(table.table_name)
        path = find_input_file(data_dir, table) if spec is None else spec.find_file(data_dir)
        scan = _scan_sql(path)
        found = _describe(con, scan, path)
        if spec is None:
            expressions = _select_list(table, found, path, keep_types=keep_types)
            ignored = _ignored_columns(table, found)
        else:
            expressions, ignored = spec.select_list(found, path, keep_types=keep_types)
        select_list = ",\n    ".join(expressions)
        if table.keep_line_numbers:
            if path.suffix.lower() == ".parquet":
                # Parquet numbers its rows itself (from 0), in parallel; report them as if the
                # file had a header line, like a CSV export of it would.
                scan = scan[:-1] + ", file_row_number = true)"
                select_list = f"file_row_number + 2 as file_line_number,\n    {select_list}"
            else:
                # Ordinality counts data rows from 1 in file order; the header is line 1.
                select_list = f"ordinality + 1 as file_line_number,\n    {select_list}"
                scan = f"{scan} with ordinality"
        plans.append(
            RawFilePlan(
                table=table,
                source_path=path,
                select_sql=f"select {select_list} from {scan}",
                ignored_columns=ignored,
            )
        )
    return plans


def loaded_table(plan: RawFilePlan, row_count: int) -> LoadedTable:
    """Check a loaded table is not empty and describe it."""
    if row_count == 0:
        raise InputDataError(
            f"{plan.source_path}: the file has no data rows. Export it again with its rows."
        )
    return LoadedTable(plan.table.table_name, plan.source_path, row_count, plan.ignored_columns)


def load_raw_files(
    con: duckdb.DuckDBPyConnection, data_dir: Path, inputs: Sequence[InputSpec] | None = None
) -> list[LoadedTable]:
    """Replace the raw tables of a DuckDB warehouse with the files in ``data_dir``, all or nothing.

    Parameters
    ----------
    con
        Read-write connection to the DuckDB warehouse.
    data_dir
        Folder holding ``CustomersData``, ``Online_Sales``, ``Discount_Coupon``, ``Tax_amount``
        and ``Marketing_Spend``, each as ``.csv`` or ``.parquet``.
    inputs
        Optional file, column and date-format mapping (see :func:`plan_raw_files`).
        Typed Parquet columns keep their types (DuckDB reads them as they are).

    Returns
    -------
    list of LoadedTable
        One entry per raw table, with its row count and the extra columns that were ignored.
    """
    plans = plan_raw_files(con, data_dir, inputs, keep_types=True)
    loaded: list[LoadedTable] = []
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {quote_identifier(RAW_SCHEMA)}")
        for plan in plans:
            target = f"{quote_identifier(RAW_SCHEMA)}.{quote_identifier(plan.table.table_name)}"
            try:
                con.execute(f"create or replace table {target} as {plan.select_sql}")
            except duckdb.Error as exc:
                raise read_error(plan.source_path, exc, "loaded") from exc
            (row_count,) = con.execute(f"select count(*) from {target}").fetchone()
            loaded.append(loaded_table(plan, row_count))
        # Rules and repairs (input_checks) inside the transaction: a rejection rolls back.
        loaded, finish_repairs = check_loaded_tables(con, plans, loaded, RAW_SCHEMA)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finish_repairs()
    return loaded
