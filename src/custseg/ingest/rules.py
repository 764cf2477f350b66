"""The rules raw input must follow before dbt builds anything, and the repairs custseg makes.

Every engine reads the files through DuckDB into staged tables, and the rules run there, in
DuckDB SQL (text, or typed Parquet columns on the DuckDB target: a rule then checks the typed
value, e.g. a number that is NaN or not above 0), BEFORE the warehouse replaces any raw table
(:mod:`custseg.ingest.staging`): a rejection leaves every raw table as it was, even on Spark,
which has no multi-table transaction. This module holds the rules; :mod:`custseg.ingest.checks`
applies them and :mod:`custseg.ingest.repairs` makes the repairs. A rule on an optional column
the file does not have (nulls) or on an input that is not given (an empty table) does not apply.

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
required column missing (renamed,       reject (``files``)          ``missing column(s)
other delimiter)                                                    avg_price. Found header:
                                                                    ...``
extra column                            repair: ignored, reported   ``ignored 1 extra column
                                                                    (notes)``
a column named twice (case and spaces   reject (``files``)          ``2 columns, 'Quantity' and
ignored)                                                            ' QUANTITY', are the same``
header case and stray spaces, UTF-8     accepted as is              (none)
byte order mark, Windows line endings
ids (customerid, transaction_id,        reject when empty           ``line 7, column
product_sku), location,                                             customerid: (empty) is
product_category                                                    empty``
transaction_date, date                  reject unless a real date   ``'2/30/2019' is not a real
                                        written M/D/YYYY            date written M/D/YYYY``
transaction_date 12/31/9999             reject: no as-of date after ``'12/31/9999' is the last
                                        it                          day a date can hold``
id stored as a float or decimal         whole: its integer's text;  ``'12346.5' is not a whole
(Parquet)                               else reject                 number``
quantity, avg_price, amount             reject unless a number >= 0 ``'-2' must be greater than
                                                                    0``
0 in quantity, avg_price or amount (a   repair: the line is         ``skipped 3 line(s) worth
free item, a promotion)                 skipped and counted;        nothing ...``
                                        reject with strict_amounts
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
equal after trimming), any file; sales  dropped, the first kept     lines (lines 17, 18, 90)``
with transaction_id or product_sku
identical sales lines, file without     accepted, counted: each is  ``kept 2 line(s) identical
transaction_id and product_sku          a repeat purchase           to an earlier one ...``
same customer id / coupon month and     reject                      ``lines 5 and 9, column
category / GST category / spend date                                location: the same customer
with different values                                               id '17850' appears with
                                                                    'Chicago' and 'Ohio'``
same product on several lines of one    accepted, counted: each     ``12 products appear on more
order (customer, transaction, SKU)      line is a purchase          than one line of the same
with other amounts                                                  order ...``
sales of a customer missing from        reject (when CustomersData  ``line 9, column customerid:
CustomersData                           is given)                   '99999' is not in
                                                                    CustomersData.csv``
sales category missing from Tax_amount  reject (when given)         ``'Gadgets' has no GST in
(no GST)                                                            Tax_amount.csv``
customer without any sales line         accepted, counted: no       ``3 customers have no sales
                                        segment (still in           line ...``
                                        dim_customer)
sales category without a coupon         accepted: no discount (the  (none)
                                        real data has 4 such)
coupon or GST category equal to a sales reject (``invoice_checks``) ``'apparel' is not written
category only when case is ignored                                  as any category of ...``
coupon or GST category no sale has      accepted, noted             ``name a category no sales
                                                                    line has``
invoice amount (before discount) or     reject (``invoice_checks``) ``... must stay below
the sum of all of them >= 10^28                                     10^28``
fewer customers than k, all customers   reject after the features   ``Cannot form 5 segments
identical                               are built (``segmenter``)   from 3 customer(s)``
======================================  ==========================  ===========================

Why these rules accept the real Marketing Insights data (checked on all 52,924 lines): it has no
exact duplicate line, no (customer, transaction, SKU) on two lines, no empty, zero or negative
quantity or price (delivery charges are often 0, hence ``>= 0``), only valid M/D/YYYY dates, only
the three coupon statuses, every sales customer in CustomersData and every sales category in
Tax_amount. Four sales categories have no coupon: allowed, they get no discount. Coupons name a
category (``Notebooks``) no sale uses: allowed and noted.

Why repeated and identical lines are handled as they are: see :mod:`custseg.ingest.line_keys`.

Why a line with 0 in quantity, avg_price or amount is skipped rather than kept or rejected: a
free item or a promotion is no purchase (kept, it would count as an order and lower the
customer's order value), and order logs hold them routinely, so stopping the run would punish a
normal export. Each is counted and reported, so an export that lost its prices (writing 0)
shows up in the summary; ``strict_amounts`` rejects them instead.

Cost (DuckDB target, generated Parquet data with typed columns, 2 cores): the checks take 1.0 s
after a 1.1 s load at 5M sales lines, 10 s after a 10 s load at 50M lines. Every value rule is
one streaming pass over the table; the search for repeated lines is one hash aggregation over the
line keys (5 s at 50M lines), and only the keys that may hold exact copies are compared value for
value. DuckDB's memory is capped meanwhile (``CUSTSEG_DUCKDB_MEMORY_LIMIT``, as dbt's profile
does) so that it spills to disk rather than growing with the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custseg.ingest.staged import StagedTable

_DIGITS = "0123456789"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
COUPON_STATUSES = ("Used", "Not Used", "Clicked")


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
    # Applies only with the strict_amounts setting; otherwise the lines it finds are skipped
    # and counted (:mod:`custseg.ingest.repairs`).
    strict_only: bool = False

    def predicate(self, table: StagedTable) -> str:
        """The SQL predicate over ``table``'s column: typed when the column is typed."""
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


def _sales_number(column: str, problem: str) -> tuple[ValueRule, ...]:
    """A number of a sales line: negative is rejected; 0 (a free line) is skipped and counted,
    or rejected with strict_amounts."""
    return (
        *_number(column, 0, None, False, problem),
        ValueRule(
            column,
            f"({{v}} is not null and {_is_number('{v}')} and try_cast({{v}} as double) = 0)",
            problem + ", and strict_amounts stops the run at a line worth nothing",
            "Remove or correct the line, or run without strict_amounts (--strict-amounts, "
            "CUSTSEG_STRICT_AMOUNTS, strict_amounts in [run]): lines with 0 in quantity, "
            "avg_price or amount are then skipped and counted in the run summary's repairs.",
            typed={"number": "({v} is not null and cast({v} as double) = 0)"},
            strict_only=True,
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


# The as-of date is the day after the last sale: after 12/31/9999 no engine can write it.
_LAST_DAY_RULE = ValueRule(
    "transaction_date",
    "(try_strptime({v}, '%m/%d/%Y') >= timestamp '9999-12-31')",
    "is the last day a date can hold, and the as-of date (the day after the last sale) would "
    "be in year 10000",
    _FIX_LINE,
    typed={"date": "({v} is not null and isfinite({v}) and {v} >= date '9999-12-31')"},
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
        _LAST_DAY_RULE,
        _required("product_sku", "a product SKU"),
        _required("product_category", "a product category"),
        *_sales_number("quantity", "must be greater than 0"),
        *_sales_number("avg_price", "must be greater than 0 (a free item is no sale)"),
        *_number("delivery_charges", 0, None, False, "must be 0 or more"),
        *_sales_number("amount", "must be greater than 0 (leave returns out)"),
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


def fractional_id_rule(column: str) -> ValueRule:
    """An id stored as a fractional number (made text by ``files._id_text``) must be whole."""
    return ValueRule(
        column,
        f"({{v}} is not null and trim({{v}}, '{_DIGITS}-') <> '')",
        "is not a whole number: the file stores this id as a fractional (floating-point or "
        "decimal) number, and only a whole number (up to 2**53 for a float) names an id exactly",
        "Store ids as integers or text; " + _FIX_LINE[0].lower() + _FIX_LINE[1:],
    )
