"""The rules raw input must follow before dbt builds anything, and the repairs custseg makes.

Every engine reads the five files through DuckDB (``raw_load.plan_raw_files``), so the checks
run there, in DuckDB SQL, on the tables the files became (text, or typed Parquet columns on the
DuckDB target: a rule then checks the typed value, e.g. a number that is NaN or not above 0):

- on the DuckDB target, on the new raw tables INSIDE the load transaction: a rejection rolls the
  transaction back and the previous raw tables stay;
- on PostgreSQL and Spark, on a DuckDB staging copy (:func:`stage_and_check`) BEFORE the server
  is touched: a rejection leaves the server's raw tables as they were, even on Spark, which has
  no multi-table transaction.

A rejection raises :class:`~custseg.errors.InputDataError` (exit code 3) naming the file, the line
(the header is line 1; a Parquet file says ``row``), the column, the offending value, how many
lines break the rule and what to do; other broken rules follow in a short list. Nothing is
published: the seeds, model, metrics and mart keep their last good contents. A repair changes the
input in a stated way, is counted, and is reported in the run summary (``RunResult.repairs``).

======================================  ==========================  ===========================
Rule (file, column)                     Action                      Message (example)
======================================  ==========================  ===========================
UTF-8, lines under 2,000,000 bytes,     reject (``read_errors``)    ``CustomersData.csv line 5:
same number of values as the header                                 not UTF-8 text (byte 0xF6
                                                                    ...)``
empty file / header only                reject                      ``the file is empty (0
                                                                    bytes ...)`` / ``no data
                                                                    rows``
required column missing (renamed,       reject (``raw_load``)       ``missing column(s)
other delimiter)                                                    avg_price. Found header:
                                                                    ...``
extra column                            repair: ignored, reported   ``ignored 1 extra column
                                                                    (notes)``
header case and stray spaces, UTF-8     accepted as is              (none)
byte order mark, Windows line endings
ids (customerid, transaction_id,        reject when empty           ``line 7, column
product_sku), location,                                             customerid: (empty) is
product_category                                                    empty``
transaction_date, date                  reject unless a real date   ``'2/30/2019' is not a real
                                        written M/D/YYYY            date written M/D/YYYY``
quantity, avg_price                     reject unless a number > 0  ``'-2' must be greater than
                                                                    0``
delivery_charges                        reject unless a number >= 0 ``'NaN' is not a number``
coupon_status                           reject unless Used, Not     ``'used' is not one of
                                        Used or Clicked             Used, Not Used, Clicked``
gender                                  reject unless M, F (any     ``'X' is not M or F``
                                        case) or empty (unknown)
tenure_months                           reject unless a whole       ``'-3' is not a whole
                                        number >= 0                 number of months``
month (coupons)                         reject unless Jan..Dec      ``'Sept' is not a month
                                                                    written Jan..Dec``
discount_pct                            reject unless 0..100        ``'120' is not a percentage
                                                                    between 0 and 100``
gst                                     reject unless 0..1          ``'18' is not a fraction
                                                                    between 0 and 1 (0.18 means
                                                                    18%)``
offline_spend, online_spend             reject unless empty or a    ``'-5' must be 0 or more``
                                        number >= 0
exact duplicate line (every value       repair: the copies are      ``dropped 3 exact duplicate
equal after trimming), any file         dropped, the first kept     lines (lines 17, 18, 90)``
same customer id / coupon month and     reject                      ``lines 5 and 9, column
category / GST category / spend date                                location: the same customer
with different values                                               id '17850' appears with
                                                                    'Chicago' and 'Ohio'``
same product on several lines of one    accepted, counted: each     ``12 products appear on more
order (customer, transaction, SKU)      line is a purchase          than one line of the same
with other amounts                                                  order ...``
sales of a customer missing from        reject                      ``line 9, column customerid:
CustomersData                                                       '99999' is not in
                                                                    CustomersData.csv``
sales category missing from Tax_amount  reject                      ``'Gadgets' has no GST in
(no GST)                                                            Tax_amount.csv``
customer without any sales line         accepted, counted: no       ``3 customers have no sales
                                        segment (still in           line ...``
                                        dim_customer)
sales category without a coupon         accepted: no discount (the  (none)
                                        real data has 4 such)
fewer customers than k, all customers   reject after the features   ``Cannot form 5 segments
identical                               are built (``segmenter``)   from 3 customer(s)``
======================================  ==========================  ===========================

Why these rules accept the real Marketing Insights data (checked on all 52,924 lines): it has no
exact duplicate line, no (customer, transaction, SKU) on two lines, no empty, zero or negative
quantity or price (delivery charges are often 0, hence ``>= 0``), only valid M/D/YYYY dates, only
the three coupon statuses, every sales customer in CustomersData and every sales category in
Tax_amount. Four sales categories have no coupon: allowed, they get no discount. Coupons name a
category (``Notebooks``) no sale uses: allowed.

Why a product on several lines of one order is accepted rather than rejected: a sales export
without a line id cannot tell a second scan of a product (a POS records one line per scan, with
or without a coupon) from a correction, and custseg's own sample generator writes such orders.
Lines identical in every value are the signature of a double export (overlapping exports
concatenated), so one copy is kept.

Why a zero price is rejected: an export that lost a price writes 0, and a line worth nothing
would lower the customer's order value silently; a free item can be left out of the export.

Cost (DuckDB target, generated Parquet data with typed columns, 2 cores): the checks take 1.0 s
after a 1.1 s load at 5M sales lines, 10 s after a 10 s load at 50M lines. Every value rule is
one streaming pass over the table; the search for repeated lines is one hash aggregation over the
line keys (5 s at 50M lines), and only the keys that may hold exact copies are compared value for
value. DuckDB's memory is capped meanwhile (``MEMORY_LIMIT_ENV``, as
dbt's profile does) so that it spills to disk rather than growing with the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from custseg.errors import ConfigError, InputDataError
from custseg.read_errors import read_error, shown

if TYPE_CHECKING:
    from custseg.raw_load import LoadedTable, RawFilePlan

#: Column the loader adds to tables that keep line numbers (the sales lines; header = line 1).
LINE_COLUMN = "file_line_number"
#: Lines listed in a message, at most.
_LISTED_LINES = 5
#: Other broken rules listed after the first, at most.
_LISTED_PROBLEMS = 8

_DIGITS = "0123456789"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
COUPON_STATUSES = ("Used", "Not Used", "Clicked")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_value(qualified: str) -> str:
    """The trimmed text of a text column; null when empty, as staging sees it."""
    return f"nullif(trim({qualified}), '')"


#: DuckDB types the checks treat as numbers (raw_load keeps no other numeric types).
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")


# ------------------------------------------------------------------------- SQL predicates
# Each predicate takes the value expression and is TRUE when the value breaks the rule.


def _is_number(v: str) -> str:
    # Digits, signs and a point only (no exponent, NaN or Infinity, which some engines read as
    # numbers), and DuckDB must read it as a double: then every engine's cast reads it too.
    return f"(try_cast({v} as double) is not null and trim({v}, '{_DIGITS}.+-') = '')"


def _not_number(v: str) -> str:
    return f"({v} is null or not {_is_number(v)})"


def _beyond(number: str, low: float | None, high: float | None, strict_low: bool) -> str:
    """True when the double expression ``number`` lies outside the bounds."""
    parts = []
    if low is not None:
        parts.append(f"{number} {'<=' if strict_low else '<'} {low}")
    if high is not None:
        parts.append(f"{number} > {high}")
    return " or ".join(parts)


def _number_outside(v: str, low: float | None, high: float | None, strict_low: bool) -> str:
    beyond = _beyond(f"try_cast({v} as double)", low, high, strict_low)
    return f"({v} is not null and {_is_number(v)} and ({beyond}))"


def _not_mdy_date(v: str) -> str:
    # The shape every engine's parse_mdy_date accepts: 1-2 digit month and day, 4-digit year.
    return (
        f"({v} is null or trim({v}, '{_DIGITS}/') <> '' "
        f"or length(split_part({v}, '/', 1)) not between 1 and 2 "
        f"or length(split_part({v}, '/', 2)) not between 1 and 2 "
        f"or length(split_part({v}, '/', 3)) <> 4 "
        f"or try_strptime({v}, '%m/%d/%Y') is null "
        f"or try_cast(split_part({v}, '/', 3) as integer) < 1)"
    )


def _empty(v: str) -> str:
    return f"({v} is null)"


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


@dataclass(frozen=True)
class ValueRule:
    """A rule on one column's values: when ``broken`` holds, the line is rejected."""

    column: str
    # SQL predicate over the trimmed text of the value (``{v}``), true when it breaks the rule.
    broken: str
    # Completes "<value> ...", e.g. "is not a number".
    problem: str
    # What the user should do.
    advice: str
    # Predicates over a typed column (``{v}``) by its kind ("number", "date", or "any" for
    # every typed column); a typed column without one is checked on its text.
    typed: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def predicate(self, table: _Staged) -> str:
        kind = table.kind(self.column)
        typed = self.typed.get(kind, self.typed.get("any")) if kind != "text" else None
        if typed is not None:
            return typed.format(v=table.column(self.column))
        return self.broken.format(v=table.text(self.column))


_FIX_LINE = "Correct the value or remove the line, then run again."
_NUMBER_PROBLEM = "is not a number (digits with a decimal point, e.g. 12.50)"
_NUMBER_ADVICE = (
    "Write plain numbers with a decimal point and no thousands separator, currency sign, "
    "NaN or empty value; " + _FIX_LINE[0].lower() + _FIX_LINE[1:]
)


# Typed columns (Parquet on DuckDB): a number must be finite, a date within years 1..9999 (what
# every engine and Python hold).
_TYPED_NOT_FINITE = "({v} is not null and not isfinite(cast({v} as double)))"
_TYPED_NOT_NUMBER = "({v} is null or not isfinite(cast({v} as double)))"
_TYPED_BAD_DATE = "({v} is null or not isfinite({v}) or year({v}) not between 1 and 9999)"


def _typed_outside(low: float | None, high: float | None, strict_low: bool) -> str:
    number = "cast({v} as double)"
    beyond = _beyond(number, low, high, strict_low)
    return f"({{v}} is not null and isfinite({number}) and ({beyond}))"


def _required(column: str, what: str) -> ValueRule:
    return ValueRule(
        column,
        _empty("{v}"),
        f"is empty: every line needs {what}",
        _FIX_LINE,
        typed={"any": _empty("{v}")},
    )


def _number(column: str, low: float | None, high: float | None, strict: bool, problem: str):
    return (
        ValueRule(
            column,
            _not_number("{v}"),
            _NUMBER_PROBLEM,
            _NUMBER_ADVICE,
            typed={"number": _TYPED_NOT_NUMBER},
        ),
        ValueRule(
            column,
            _number_outside("{v}", low, high, strict),
            problem,
            _FIX_LINE,
            typed={"number": _typed_outside(low, high, strict)},
        ),
    )


def _date(column: str) -> ValueRule:
    return ValueRule(
        column,
        _not_mdy_date("{v}"),
        "is not a real date written M/D/YYYY (month/day/year, e.g. 12/31/2019)",
        "Write dates as month/day/year with a 4-digit year, or map your format in "
        "custseg.toml (date_format); " + _FIX_LINE[0].lower() + _FIX_LINE[1:],
        typed={"date": _TYPED_BAD_DATE},
    )


def _optional_number(column: str) -> tuple[ValueRule, ValueRule]:
    """Empty, or a number of 0 or more (marketing spend)."""
    return (
        ValueRule(
            column,
            "({v} is not null and not " + _is_number("{v}") + ")",
            _NUMBER_PROBLEM,
            _NUMBER_ADVICE,
            typed={"number": _TYPED_NOT_FINITE},
        ),
        ValueRule(
            column,
            _number_outside("{v}", 0, None, False),
            "must be 0 or more",
            _FIX_LINE,
            typed={"number": _typed_outside(0, None, False)},
        ),
    )


#: Value rules per raw table, in the order they are reported.
VALUE_RULES: dict[str, tuple[ValueRule, ...]] = {
    "customers_data": (
        _required("customerid", "a customer id"),
        ValueRule(
            "gender",
            "({v} is not null and upper({v}) not in ('M', 'F'))",
            "is not M or F (leave it empty when unknown)",
            _FIX_LINE,
        ),
        _required("location", "a location"),
        ValueRule(
            "tenure_months",
            f"({{v}} is null or trim({{v}}, '{_DIGITS}') <> '' or length({{v}}) > 9)",
            "is not a whole number of months (0 or more)",
            _FIX_LINE,
        ),
    ),
    "online_sales": (
        _required("customerid", "a customer id"),
        _required("transaction_id", "a transaction id"),
        _date("transaction_date"),
        _required("product_sku", "a product SKU"),
        _required("product_category", "a product category"),
        *_number("quantity", 0, None, True, "must be greater than 0"),
        *_number("avg_price", 0, None, True, "must be greater than 0 (a free item is no sale)"),
        *_number("delivery_charges", 0, None, False, "must be 0 or more"),
        ValueRule(
            "coupon_status",
            f"({{v}} is null or {{v}} not in ({_sql_list(COUPON_STATUSES)}))",
            f"is not one of {', '.join(COUPON_STATUSES)} (exactly so written)",
            _FIX_LINE,
        ),
    ),
    "discount_coupon": (
        ValueRule(
            "month",
            f"({{v}} is null or lower({{v}}) not in ({_sql_list(_MONTHS)}))",
            "is not a month written Jan..Dec",
            _FIX_LINE,
        ),
        _required("product_category", "a product category"),
        *_number("discount_pct", 0, 100, False, "is not a percentage between 0 and 100"),
    ),
    "tax_amount": (
        _required("product_category", "a product category"),
        *_number("gst", 0, 1, False, "is not a fraction between 0 and 1 (0.18 means 18%, not 18)"),
    ),
    "marketing_spend": (
        _date("date"),
        *_optional_number("offline_spend"),
        *_optional_number("online_spend"),
    ),
}


@dataclass(frozen=True)
class KeyRule:
    """Lines sharing a key must be identical; different values for one key are rejected."""

    # The key's columns, each with how it is compared: "value" (as staging reads it), "lower"
    # (its text, case ignored) or "date" (the day it means).
    key: tuple[tuple[str, str], ...]
    # What the key is, for messages ("customer id").
    what: str

    def expressions(self, table: _Staged) -> tuple[str, ...]:
        return tuple(table.key_value(column, how) for column, how in self.key)


KEY_RULES: dict[str, KeyRule] = {
    "customers_data": KeyRule((("customerid", "value"),), "customer id"),
    "discount_coupon": KeyRule(
        (("month", "lower"), ("product_category", "value")), "month and category"
    ),
    "tax_amount": KeyRule((("product_category", "value"),), "category"),
    "marketing_spend": KeyRule((("date", "date"),), "date"),
}
#: A product on several lines of one order: accepted and counted (see the module docstring).
SALES_LINE_KEY = ("customerid", "transaction_id", "product_sku")


# ------------------------------------------------------------------------------ outcome


@dataclass(frozen=True)
class TableRepairs:
    """What custseg changed in, or noted about, one raw table."""

    # One sentence per repair or note, starting with the file name.
    messages: tuple[str, ...] = ()
    # Rows removed from the table (exact duplicate lines).
    rows_removed: int = 0


@dataclass(frozen=True)
class _Staged:
    """One raw table as DuckDB holds it for checking."""

    plan: RawFilePlan
    relation: str
    # SQL giving a row's file line, qualified by ``alias.`` where needed (see _line_template).
    line_template: str
    # DuckDB type of each column (upper case): VARCHAR, or a kept Parquet type.
    types: Mapping[str, str]

    def line(self, alias: str = "") -> str:
        return self.line_template.format(alias=f"{alias}." if alias else "")

    def column(self, column: str, alias: str = "") -> str:
        return f"{alias}.{_quote(column)}" if alias else _quote(column)

    def kind(self, column: str) -> str:
        """ "text", "number", "date" or "other": how the rules read the column."""
        type_name = self.types.get(column, "VARCHAR")
        if type_name == "VARCHAR":
            return "text"
        if type_name == "DATE":
            return "date"
        if type_name.lstrip("U") in _NUMBER_TYPES or type_name.startswith("DECIMAL"):
            return "number"
        return "other"

    def value(self, column: str, alias: str = "") -> str:
        """The value as staging reads it: trimmed text (null when empty), or the typed value."""
        qualified = self.column(column, alias)
        return _text_value(qualified) if self.kind(column) == "text" else qualified

    def text(self, column: str, alias: str = "") -> str:
        """The value as trimmed text (null when empty), whatever the column's type."""
        qualified = self.column(column, alias)
        if self.kind(column) != "text":
            qualified = f"cast({qualified} as varchar)"
        return _text_value(qualified)

    def as_written(self, column: str) -> str:
        """The value for a message: the text as read, or a typed value as DuckDB writes it
        ('nan', 'infinity'), not as Python would hold it."""
        if self.kind(column) == "text":
            return self.column(column)
        return f"cast({self.column(column)} as varchar)"

    def key_value(self, column: str, how: str) -> str:
        if how == "lower":
            return f"lower({self.text(column)})"
        if how == "date" and self.kind(column) != "date":
            return f"cast(try_strptime({self.text(column)}, '%m/%d/%Y') as date)"
        return self.value(column)

    @property
    def path(self) -> Path:
        return self.plan.source_path

    @property
    def name(self) -> str:
        return self.plan.source_path.name

    def at(self, line: int) -> str:
        """``line N`` in a CSV (header = line 1), ``row N`` in a Parquet file."""
        if self.path.suffix.lower() == ".csv":
            return f"line {line}"
        return f"row {line - 1}"

    def lines(self, lines: Sequence[int], total: int) -> str:
        shown_lines = ", ".join(self.at(line).split()[1] for line in lines[:_LISTED_LINES])
        more = ", ..." if total > len(lines[:_LISTED_LINES]) else ""
        word = "line" if self.path.suffix.lower() == ".csv" else "row"
        return f"{word}{'' if total == 1 else 's'} {shown_lines}{more}"


@dataclass(frozen=True)
class _Problem:
    # The full message of the rule's first offending line.
    message: str
    # One-line summary when it is not the first problem.
    summary: str


# ---------------------------------------------------------------------------- the checks


def _line_template(con: duckdb.DuckDBPyConnection, plan: RawFilePlan, relation: str) -> str:
    """How to get a row's file line: the loader's column, else the row's position.

    A table DuckDB has just created from a file (in file order: insertion order is preserved)
    numbers its rows consecutively from its first ``rowid``, inside a transaction or not; the
    header is line 1, so the first row is line 2.
    """
    if plan.table.keep_line_numbers:
        return "{alias}" + LINE_COLUMN
    first, last, count = con.execute(
        f"select min(rowid), max(rowid), count(*) from {relation}"
    ).fetchone()
    if count and last - first + 1 != count:  # never seen: rows were deleted before the checks
        raise RuntimeError(f"{relation}: row ids are not consecutive; cannot number lines")
    return f"({{alias}}rowid - {first or 0} + 2)"


def check_raw_tables(
    con: duckdb.DuckDBPyConnection,
    staged: Sequence[tuple[RawFilePlan, str]],
    deferred: list[str] | None = None,
) -> dict[str, TableRepairs]:
    """Check the raw tables held in ``con``; repair what the rules repair; reject the rest.

    Parameters
    ----------
    con
        DuckDB connection holding one table per input, freshly created from its file (the raw
        tables inside the load transaction, or a staging copy).
    staged
        Each input's plan and the relation holding its rows in ``con``.
    deferred
        When given, statements that finish the repairs after the caller's commit are appended
        to it instead of being run (see :func:`_drop_exact_duplicates`).

    Returns
    -------
    dict
        Raw table name -> the repairs made and notes taken (exact duplicates are deleted from
        the relations in ``con``).

    Raises
    ------
    InputDataError
        When a rule is broken: the message names file, line, column, value, count and the fix.
    """
    tables = {
        plan.table.table_name: _Staged(
            plan, relation, _line_template(con, plan, relation), _column_types(con, relation)
        )
        for plan, relation in staged
    }
    with _memory_capped(con):
        problems: list[_Problem] = []
        for name, table in tables.items():
            problems += _value_problems(con, table, VALUE_RULES.get(name, ()))
            if name in KEY_RULES:
                problems += _key_problems(con, table, KEY_RULES[name])
        problems += _reference_problems(con, tables)
        if problems:
            raise InputDataError(_rejection(problems))
        return _repairs(con, tables, deferred)


def _column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"describe {relation}").fetchall()
    return {str(row[0]): str(row[1]).upper() for row in rows}


def _columns(table: _Staged) -> tuple[str, ...]:
    return table.plan.table.columns


def _value_problems(
    con: duckdb.DuckDBPyConnection, table: _Staged, rules: Sequence[ValueRule]
) -> list[_Problem]:
    if not rules:
        return []
    # One pass over the table counts every rule's offending lines.
    aggregates = ", ".join(f"count(*) filter (where {rule.predicate(table)})" for rule in rules)
    counts = con.execute(f"select {aggregates} from {table.relation}").fetchone()
    problems = []
    for rule, count in zip(rules, counts, strict=True):
        if not count:
            continue
        examples = con.execute(
            f"select {table.line()} as line, {table.as_written(rule.column)} "
            f"from {table.relation} "
            f"where {rule.predicate(table)} order by line limit {_LISTED_LINES}"
        ).fetchall()
        first_line, value = examples[0]
        lines = [line for line, _ in examples]
        where = f"{table.path} {table.at(first_line)}, column {rule.column}"
        plural = "line breaks" if count == 1 else "lines break"
        listing = "" if count == 1 else f" ({table.lines(lines, count)})"
        problem = f"{shown(value)} {rule.problem}"
        configured = _configured_date(value)
        if configured is not None:
            original, date_format = configured
            problem = (
                f"{shown(original)} does not match its date_format {shown(date_format)} "
                "(custseg.toml)"
            )
        problems.append(
            _Problem(
                message=(
                    f"{where}: {problem}. {count:,} {plural} this rule{listing}. {rule.advice}"
                ),
                summary=(
                    f"{table.name} {table.at(first_line)}, column {rule.column}: {problem} "
                    f"({count:,} {plural.split()[0]})"
                ),
            )
        )
    return problems


def _configured_date(value: object) -> tuple[str, str] | None:
    """(written value, format) of a date that missed its configured format, else None.

    ``input_config`` loads such a date as ``unparseable with date_format <format>: <value>`` so
    that it stays visible; the message shows the user's value and format instead.
    """
    try:  # imported here: input_config imports raw_load, which imports this module
        from custseg.input_config import UNPARSED_DATE_PREFIX
    except ImportError:  # pragma: no cover - a build without configurable inputs
        return None

    text = "" if value is None else str(value)
    if not text.startswith(UNPARSED_DATE_PREFIX) or ": " not in text:
        return None
    date_format, original = text[len(UNPARSED_DATE_PREFIX) :].rsplit(": ", 1)
    return original, date_format


def _key_problems(con: duckdb.DuckDBPyConnection, table: _Staged, rule: KeyRule) -> list[_Problem]:
    columns = _columns(table)
    key_expressions = rule.expressions(table)
    keys = ", ".join(f"{expression} as k{i}" for i, expression in enumerate(key_expressions))
    key_names = ", ".join(f"k{i}" for i in range(len(rule.key)))
    values = ", ".join(table.value(column) for column in columns)
    conflicts = f"""
        with keyed as (
            select {table.line()} as line, {keys}, hash({values}) as h from {table.relation}
        )
        select {key_names}, count(*) as n, min(line) as first_line
        from keyed
        where {" and ".join(f"k{i} is not null" for i in range(len(rule.key)))}
        group by {key_names}
        having min(h) <> max(h)
    """
    summary = con.execute(f"select count(*), sum(n), min(first_line) from ({conflicts})").fetchone()
    n_keys, n_lines, first = summary
    if not n_keys:
        return []
    key_values = con.execute(
        f"select {key_names} from ({conflicts}) order by first_line limit 1"
    ).fetchone()
    predicate = " and ".join(f"{expression} = ?" for expression in key_expressions)
    rows = con.execute(
        f"select {table.line()} as line, {values} from {table.relation} where {predicate} "
        "order by line",
        list(key_values),
    ).fetchall()
    first_row = rows[0]
    other = next(row for row in rows[1:] if row[1:] != first_row[1:])
    column_index = next(i for i in range(len(columns)) if first_row[1 + i] != other[1 + i])
    column = columns[column_index]
    key_text = " and ".join(shown(value) for value in key_values)
    where = f"{table.path} {table.lines([first_row[0], other[0]], 2).replace(', ', ' and ')}"
    detail = (
        f"column {column}: the same {rule.what} ({key_text}) appears with "
        f"{shown(first_row[1 + column_index])} and {shown(other[1 + column_index])}"
    )
    return [
        _Problem(
            message=(
                f"{where}, {detail}. {n_keys:,} {rule.what}(s) appear with different values "
                f"on {int(n_lines):,} lines. Keep one line per {rule.what} (remove or correct "
                "the wrong one), then run again."
            ),
            summary=f"{table.name} {table.at(first_row[0])}, {detail}",
        )
    ]


def _reference_problems(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, _Staged]
) -> list[_Problem]:
    sales = tables.get("online_sales")
    problems: list[_Problem] = []
    if sales is None:
        return problems
    references = (
        (
            "customerid",
            "customers_data",
            "customerid",
            "a customer",
            "Add the customer to {file} or remove their sales lines, then run again.",
        ),
        (
            "product_category",
            "tax_amount",
            "product_category",
            "a category",
            "Add the category and its GST to {file} (GST is needed for the invoice value), or "
            "correct the category, then run again.",
        ),
    )
    for column, target_name, target_column, what, advice in references:
        target = tables.get(target_name)
        if target is None:
            continue
        value, target_value = _comparable(sales, column, target, target_column)
        missing = f"""
            select {sales.line("s")} as line, {value("s")} as v
            from {sales.relation} as s
            where {value("s")} is not null and not exists (
                select 1 from {target.relation} as t
                where {target_value("t")} = {value("s")}
            )
        """
        count, distinct = con.execute(
            f"select count(*), count(distinct v) from ({missing})"
        ).fetchone()
        if not count:
            continue
        examples = con.execute(
            f"select line, v from ({missing}) order by line limit {_LISTED_LINES}"
        ).fetchall()
        first_line, value = examples[0]
        no_gst = " (it has no GST)" if target_name == "tax_amount" else ""
        head = (
            f"{sales.path} {sales.at(first_line)}, column {column}: {shown(value)} is not "
            f"{what} of {target.name}{no_gst}"
        )
        problems.append(
            _Problem(
                message=(
                    f"{head}. {count:,} line(s) name {distinct:,} such value(s) "
                    f"({sales.lines([line for line, _ in examples], count)}). "
                    + advice.format(file=target.path)
                ),
                summary=(
                    f"{sales.name} {sales.at(first_line)}, column {column}: {shown(value)} is "
                    f"not in {target.name} ({count:,} lines)"
                ),
            )
        )
    return problems


def _comparable(
    table: _Staged, column: str, other: _Staged, other_column: str
) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """Expressions (by table alias) comparing two columns: as typed when their types agree,
    else as text (a customer id that is a number in one file and text in another)."""
    if table.types.get(column) == other.types.get(other_column):
        return (lambda alias: table.value(column, alias)), (
            lambda alias: other.value(other_column, alias)
        )
    return (lambda alias: table.text(column, alias)), (
        lambda alias: other.text(other_column, alias)
    )


def _rejection(problems: Sequence[_Problem]) -> str:
    text = problems[0].message
    others = problems[1:]
    if others:
        listed = "\n  ".join(problem.summary for problem in others[:_LISTED_PROBLEMS])
        more = (
            f"\n  ... and {len(others) - _LISTED_PROBLEMS} more"
            if len(others) > _LISTED_PROBLEMS
            else ""
        )
        text += f"\nAlso broken:\n  {listed}{more}"
    return (
        text + "\nNothing was loaded or published: the previous raw tables, seeds, model and "
        "mart are unchanged."
    )


# --------------------------------------------------------------------------- the repairs


#: Environment variable capping DuckDB's memory, the one dbt's duckdb profile reads; the large
#: aggregations of the checks spill to disk beyond it instead of taking 80% of the machine.
MEMORY_LIMIT_ENV = "CUSTSEG_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GB"


#: The lines of one key (for the sales, the product of an order) are compared to find exact
#: copies and, for the sales, products on several lines with other values.
LINE_KEYS: dict[str, tuple[str, ...]] = {
    "customers_data": ("customerid",),
    "online_sales": SALES_LINE_KEY,
    "discount_coupon": ("month", "product_category"),
    "tax_amount": ("product_category",),
    "marketing_spend": ("date",),
}


@dataclass(frozen=True)
class _Repeats:
    """Keys of one table that occur on more than one line (a temporary table of their hashes)."""

    # Temporary table: k (key hash), n (lines), same (every line has the same values).
    keys: str
    # Keys whose lines differ in some value, and the first line of such a key.
    differing_keys: int
    first_differing_line: int | None
    # Keys whose lines may hold exact copies: all lines alike, or more than two lines.
    candidate_keys: int


def _line_sql(table: _Staged) -> tuple[str, str]:
    """A line's key and its values, as staging reads them, as SQL lists for hash()."""
    columns = _columns(table)
    key = LINE_KEYS.get(table.plan.table.table_name, columns)
    return (
        ", ".join(table.value(column) for column in key),
        ", ".join(table.value(column) for column in columns),
    )


def _scan_repeats(con: duckdb.DuckDBPyConnection, table: _Staged) -> _Repeats:
    """One aggregation over the table: which keys occur more than once, and how their lines
    compare (lowest and highest hash of the values, as staging reads them).

    A key on two lines is an exact copy when both hashes agree and a product bought twice
    otherwise; a key on three or more lines may be both, and its lines are compared value for
    value (:func:`_drop_exact_duplicates`). The hashes only select candidates.
    """
    name = table.plan.table.table_name
    key, values = _line_sql(table)
    keys = _quote(f"custseg_repeated_keys_{name}")
    con.execute(
        f"create or replace temp table {keys} as "
        f"select k, count(*) as n, min(h) = max(h) as same, min(line) as first_line from ("
        f"  select hash({key}) as k, hash({values}) as h, {table.line()} as line "
        f"  from {table.relation}) "
        f"group by k having count(*) > 1"
    )
    differing, first, candidates = con.execute(
        f"select count(*) filter (where not same), min(first_line) filter (where not same), "
        f"count(*) filter (where same or n > 2) from {keys}"
    ).fetchone()
    return _Repeats(keys, int(differing), first, int(candidates))


@contextlib.contextmanager
def _memory_capped(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Cap DuckDB's memory as dbt's profile does while the checks run; restore it afterwards."""
    (previous,) = con.execute("select current_setting('memory_limit')").fetchone()
    limit = os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"set memory_limit = '{limit.replace(chr(39), '')}'")
    except duckdb.Error as exc:
        raise ConfigError(
            f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB understands "
            "(e.g. 2GB, 512MB)."
        ) from exc
    try:
        yield
    finally:
        con.execute(f"set memory_limit = '{previous}'")


def _repairs(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, _Staged], deferred: list[str] | None
) -> dict[str, TableRepairs]:
    outcome: dict[str, TableRepairs] = {}
    for name, table in tables.items():
        messages: list[str] = []
        if table.plan.ignored_columns:
            extra = table.plan.ignored_columns
            messages.append(
                f"{table.name}: ignored {len(extra)} extra column(s) "
                f"({', '.join(shown(c) for c in extra)}); custseg reads "
                f"{', '.join(_columns(table))}."
            )
        repeats = _scan_repeats(con, table)
        removed = _drop_exact_duplicates(con, table, repeats, messages, deferred)
        if name == "online_sales" and repeats.differing_keys:
            messages.append(
                f"{table.name}: {repeats.differing_keys:,} product(s) appear on more than one "
                "line of the same order (customer, transaction and SKU) with other values "
                "(quantity, price, coupon status...), the first at "
                f"{table.at(int(repeats.first_differing_line or 0))}; each line counts as a "
                "purchase."
            )
        outcome[name] = TableRepairs(tuple(messages), removed)
    notes = _customers_without_sales(con, tables)
    if notes:
        before = outcome["customers_data"]
        outcome["customers_data"] = dataclasses.replace(
            before, messages=before.messages + tuple(notes)
        )
    return outcome


def _drop_exact_duplicates(
    con: duckdb.DuckDBPyConnection,
    table: _Staged,
    repeats: _Repeats,
    messages: list[str],
    deferred: list[str] | None,
) -> int:
    """Remove every copy of a line after its first; return how many were removed.

    Only the lines of the candidate keys found by :func:`_scan_repeats` are compared, value for
    value as staging reads them (text trimmed): a file without copies costs no second pass. The
    lines to remove are kept in a temporary table; with ``deferred`` given, the DELETE of a table
    with its own line numbers (the large sales table) is appended there for the caller to run
    after its commit: DuckDB commits a table created and then deleted from in one transaction
    much more slowly.
    """
    name = table.plan.table.table_name
    if not repeats.candidate_keys:
        con.execute(f"drop table {repeats.keys}")
        return 0
    key, values = _line_sql(table)
    found = _quote(f"custseg_duplicates_{name}")
    con.execute(
        f"create or replace temp table {found} as select line from ("
        f"  select {table.line()} as line, row_number() over ("
        f"    partition by {values} order by {table.line()}) as copy"
        f"  from {table.relation}"
        f"  where hash({key}) in (select k from {repeats.keys} where same or n > 2)"
        f") where copy > 1"
    )
    con.execute(f"drop table {repeats.keys}")
    ((count,),) = con.execute(f"select count(*) from {found}").fetchall()
    if not count:
        con.execute(f"drop table {found}")
        return 0
    first = [
        line
        for (line,) in con.execute(
            f"select line from {found} order by line limit {_LISTED_LINES}"
        ).fetchall()
    ]
    delete = f"delete from {table.relation} where {table.line()} in (select line from {found})"
    if table.plan.table.keep_line_numbers and deferred is not None:
        deferred += [delete, f"drop table {found}"]
    else:
        con.execute(delete)
        con.execute(f"drop table {found}")
    messages.append(
        f"{table.name}: dropped {count:,} exact duplicate line(s) "
        f"({table.lines(first, count)}): each repeats an earlier line value for value, "
        "as a double export does; the first copy was kept."
    )
    return int(count)


def _customers_without_sales(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, _Staged]
) -> list[str]:
    sales, customers = tables.get("online_sales"), tables.get("customers_data")
    if sales is None or customers is None:
        return []
    # The distinct buyers first: a hash table of customers, not of sales lines.
    customer, buyer = _comparable(customers, "customerid", sales, "customerid")
    without = f"""
        select {customers.line("c")} as line, {customer("c")} as v
        from {customers.relation} as c
        where {customer("c")} not in (
            select distinct {buyer("s")} from {sales.relation} as s
            where {buyer("s")} is not null
        )
    """
    ((count,),) = con.execute(f"select count(*) from ({without})").fetchall()
    if not count:
        return []
    examples = con.execute(f"select v from ({without}) order by line limit 3").fetchall()
    ids = ", ".join(shown(value) for (value,) in examples)
    return [
        f"{customers.name}: {count:,} customer(s) have no sales line (e.g. {ids}); they stay "
        "in dim_customer but get no segment."
    ]


# ------------------------------------------------------------------------ engine helpers


def check_loaded_tables(
    con: duckdb.DuckDBPyConnection,
    plans: Sequence[RawFilePlan],
    loaded: Sequence[LoadedTable],
    schema: str,
) -> tuple[list[LoadedTable], Callable[[], None]]:
    """Check and repair the raw tables just loaded into ``schema`` (DuckDB, in the transaction).

    Returns ``loaded`` with each table's repairs attached and its rows recounted, and the last
    step of the repairs, which the caller runs right after its commit (exact duplicate sales
    lines are deleted then: much cheaper than inside the transaction that created the table).

    Raises
    ------
    InputDataError
        A rule is broken (see :func:`check_raw_tables`); the caller rolls the load back.
    """
    staged = [(plan, f"{_quote(schema)}.{_quote(plan.table.table_name)}") for plan in plans]
    deferred: list[str] = []
    repairs = check_raw_tables(con, staged, deferred)

    def finish() -> None:
        for statement in deferred:
            con.execute(statement)

    return with_repairs(loaded, repairs, recount=True), finish


def stage_and_check(
    con: duckdb.DuckDBPyConnection, plans: Sequence[RawFilePlan]
) -> tuple[list[RawFilePlan], dict[str, TableRepairs]]:
    """Read every file into a DuckDB staging table, check and repair it, before any server.

    For the engines that load from DuckDB's output (PostgreSQL, Spark). Returns plans whose
    ``select_sql`` reads the checked, repaired staging tables, and the repairs.

    Raises
    ------
    InputDataError
        A file cannot be read, or a rule is broken (see :func:`check_raw_tables`).
    """
    ((temp_directory,),) = con.execute("select current_setting('temp_directory')").fetchall()
    if temp_directory == ".tmp":
        # An in-memory database would spill large staging tables into the current folder.
        spill = Path(tempfile.gettempdir()) / "custseg-duckdb-spill"
        con.execute(f"set temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    staged: list[tuple[RawFilePlan, str]] = []
    for plan in plans:
        relation = _quote(f"custseg_staged_{plan.table.table_name}")
        try:
            con.execute(f"create or replace temp table {relation} as {plan.select_sql}")
        except duckdb.Error as exc:
            raise read_error(plan.source_path, exc, "loaded") from exc
        staged.append((plan, relation))
    repairs = check_raw_tables(con, staged)
    return [
        dataclasses.replace(plan, select_sql=f"select * from {relation}")
        for plan, relation in staged
    ], repairs


def with_repairs(
    loaded: Sequence[LoadedTable], repairs: Mapping[str, TableRepairs], *, recount: bool
) -> list[LoadedTable]:
    """Attach each table's repair messages; subtract removed rows when ``recount``."""
    result = []
    for table in loaded:
        repair = repairs.get(table.table_name, TableRepairs())
        rows = table.row_count - repair.rows_removed if recount else table.row_count
        result.append(dataclasses.replace(table, row_count=rows, repairs=repair.messages))
    return result


def repair_messages(loaded: Sequence[Any]) -> list[str]:
    """Every repair and note of a load, in file order, for the run summary."""
    return [message for table in loaded for message in getattr(table, "repairs", ())]
