"""The repairs custseg makes to staged input, and the notes it takes: each stated and counted.

Sales lines worth nothing (0 in quantity, avg_price or amount) are skipped; exact duplicate
lines are dropped (the first copy is kept), except identical sales lines of a file without
transaction ids and SKUs, which are kept as repeat purchases and noted; extra columns are
ignored; products on several lines of one order, customers without sales and coupon or GST
categories no sale has are noted. See :mod:`custseg.ingest.rules` and
:mod:`custseg.ingest.line_keys` for why each is a repair or a note rather than a rejection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from custseg.errors import InputDataError
from custseg.ingest.invoice_checks import (
    UnmatchedCategory,
    unmatched_categories,
    unmatched_category_notes,
)
from custseg.ingest.layout import REVENUE_COLUMNS, input_key
from custseg.ingest.line_keys import LINE_KEYS, SALES_LINE_KEY, has_line_identity
from custseg.ingest.read_errors import shown
from custseg.ingest.rules import VALUE_RULES
from custseg.ingest.staged import LISTED_LINES, StagedTable, comparable
from custseg.sql import quote_identifier


@dataclass(frozen=True)
class TableRepairs:
    """What custseg changed in, or noted about, one raw table."""

    # One sentence per repair or note, starting with the file name.
    messages: tuple[str, ...] = ()
    # Rows removed from the table (lines worth nothing, exact duplicate lines).
    rows_removed: int = 0


def repair(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, StagedTable],
    unmatched: Sequence[UnmatchedCategory] | None = None,
) -> dict[str, TableRepairs]:
    """Make the repairs of every staged table (rows are deleted from them) and take the notes.

    ``unmatched`` are the coupon and GST lines naming a category no sale has (found when not
    given). Returns raw table name -> what was repaired or noted, in sentences for the run
    summary.
    """
    outcome: dict[str, TableRepairs] = {}
    for name, table in tables.items():
        messages: list[str] = []
        if table.plan.ignored_columns:
            extra = table.plan.ignored_columns
            messages.append(
                f"{table.name}: ignored {len(extra)} extra column(s) "
                f"({', '.join(shown(c) for c in extra)}); custseg reads "
                f"{', '.join(table.columns)}."
            )
        removed = _skip_lines_worth_nothing(con, table, messages)
        repeats = _scan_repeats(con, table)
        removed += _exact_copies(con, table, repeats, messages)
        if name == "online_sales" and _line_key(table) == SALES_LINE_KEY and repeats.differing_keys:
            messages.append(
                f"{table.name}: {repeats.differing_keys:,} product(s) appear on more than one "
                "line of the same order (customer, transaction and SKU) with other values "
                "(quantity, price, coupon status...), the first at "
                f"{table.at(int(repeats.first_differing_line or 0))}; each line counts as a "
                "purchase."
            )
        outcome[name] = TableRepairs(tuple(messages), removed)
    notes = {"customers_data": _customers_without_sales(con, tables)}
    if unmatched is None:
        unmatched = unmatched_categories(con, tables)
    for name, note in unmatched_category_notes(unmatched).items():
        notes[name] = [note]
    for name, more in notes.items():
        if more:
            before = outcome[name]
            outcome[name] = dataclasses.replace(before, messages=before.messages + tuple(more))
    return outcome


def _skip_lines_worth_nothing(
    con: duckdb.DuckDBPyConnection, table: StagedTable, messages: list[str]
) -> int:
    """Delete the sales lines with 0 in quantity, avg_price or amount; return how many.

    They are the lines the strict-only rules of :data:`~custseg.ingest.rules.VALUE_RULES`
    find (with ``strict_amounts`` the checks have rejected them, and none is left here).

    Raises
    ------
    InputDataError
        Every line is worth nothing: no purchase is left to segment.
    """
    rules = [
        rule
        for rule in VALUE_RULES.get(table.plan.table.table_name, ())
        if rule.strict_only and table.plan.has(rule.column)
    ]
    if not rules:
        return 0
    worthless = " or ".join(f"({rule.predicate(table)})" for rule in rules)
    per_column = ", ".join(f"count(*) filter (where {rule.predicate(table)})" for rule in rules)
    count, total, *counts = con.execute(
        f"select count(*) filter (where {worthless}), count(*), {per_column} from {table.relation}"
    ).fetchone()
    if not count:
        return 0
    columns = ", ".join(
        f"{n:,} with {rule.column} 0" for rule, n in zip(rules, counts, strict=True) if n
    )
    if count == total:
        raise InputDataError(
            f"{table.path}: every line ({count:,}) has 0 in quantity, avg_price or amount "
            f"({columns}), and lines worth nothing are skipped: no purchase is left to "
            "segment. Check that the mapped amount or price column is the right one "
            "([inputs.sales.columns] of custseg.toml)."
        )
    first = [
        line
        for (line,) in con.execute(
            f"select {table.line()} as line from {table.relation} where {worthless} "
            f"order by line limit {LISTED_LINES}"
        ).fetchall()
    ]
    con.execute(f"delete from {table.relation} where {worthless}")
    messages.append(
        f"{table.name}: skipped {count:,} line(s) worth nothing ({columns}; "
        f"{table.lines(first, count)}): a free item or promotion is no purchase, so these "
        "lines count toward no order and no revenue. Set strict_amounts to stop the run at "
        "such lines instead."
    )
    return int(count)


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


def _line_key(table: StagedTable) -> tuple[str, ...]:
    """The columns naming a line: its key, or all its columns when the file lacks one of the
    key's (an order log without transaction ids or SKUs: each line stands for itself)."""
    key = LINE_KEYS.get(table.plan.table.table_name, table.columns)
    return key if all(table.plan.has(column) for column in key) else table.columns


def _line_sql(table: StagedTable) -> tuple[str, str]:
    """A line's key and its values, as staging reads them, as SQL lists for hash()."""
    key = _line_key(table)
    return (
        ", ".join(table.value(column) for column in key),
        ", ".join(table.value(column) for column in table.columns),
    )


def _scan_repeats(con: duckdb.DuckDBPyConnection, table: StagedTable) -> _Repeats:
    """Which keys occur more than once, and how their lines compare (lowest and highest hash of
    the values, as staging reads them).

    Two passes: the first groups the high 32 bits of the key hashes alone, the second groups
    the full hashes, with the values' hash and the first line, of only the lines whose high bits
    repeat (the repeated keys, and keys that share their high bits by chance: the second pass
    keeps only the keys that repeat). Most keys occur once: at 50M lines this is 1.6-1.8 s
    faster than one pass carrying the values' hash and the first line through the grouping of
    every full key hash (measured).

    A key on two lines is an exact copy when both hashes agree and a product bought twice
    otherwise; a key on three or more lines may be both, and its lines are compared value for
    value (:func:`_exact_copies`). The hashes only select candidates.
    """
    name = table.plan.table.table_name
    key, values = _line_sql(table)
    keys = quote_identifier(f"custseg_repeated_keys_{name}")
    con.execute(
        f"create or replace temp table {keys} as "
        f"with repeated as ("
        f"  select k from (select (hash({key}) >> 32)::uinteger as k from {table.relation}) "
        f"  group by k having count(*) > 1) "
        f"select k, count(*) as n, min(h) = max(h) as same, min(line) as first_line from ("
        f"  select hash({key}) as k, hash({values}) as h, {table.line()} as line "
        f"  from {table.relation}) "
        f"where (k >> 32)::uinteger in (select k from repeated) "
        f"group by k having count(*) > 1"
    )
    differing, first, candidates = con.execute(
        f"select count(*) filter (where not same), min(first_line) filter (where not same), "
        f"count(*) filter (where same or n > 2) from {keys}"
    ).fetchone()
    return _Repeats(keys, int(differing), first, int(candidates))


def _exact_copies(
    con: duckdb.DuckDBPyConnection,
    table: StagedTable,
    repeats: _Repeats,
    messages: list[str],
) -> int:
    """Remove every copy of a line after its first; return how many were removed.

    Sales lines without an identity (:func:`~custseg.ingest.line_keys.has_line_identity`) are
    repeat purchases: they are counted and noted, and none is removed.

    Only the lines of the candidate keys found by :func:`_scan_repeats` are compared, value for
    value as staging reads them (text trimmed), by grouping them on all their values: every
    line but the first of its group is a copy (at 50M lines, grouping the candidates costs half
    what numbering them in a window partitioned by the values did). A file without copies
    costs no second pass. The lines to remove are kept in a temporary table. The staged table
    was committed when it was created: DuckDB commits a table created and then deleted from in
    one transaction much more slowly.
    """
    name = table.plan.table.table_name
    if not repeats.candidate_keys:
        con.execute(f"drop table {repeats.keys}")
        return 0
    key = _line_sql(table)[0]
    named = ", ".join(f"{table.value(column)} as v{i}" for i, column in enumerate(table.columns))
    grouped = ", ".join(f"v{i}" for i in range(len(table.columns)))
    found = quote_identifier(f"custseg_duplicates_{name}")
    con.execute(
        f"create or replace temp table {found} as "
        f"with candidates as materialized ("
        f"  select {table.line()} as line, {named} from {table.relation}"
        f"  where hash({key}) in (select k from {repeats.keys} where same or n > 2)) "
        f"select line from candidates "
        f"where line not in (select min(line) from candidates group by {grouped})"
    )
    con.execute(f"drop table {repeats.keys}")
    ((count,),) = con.execute(f"select count(*) from {found}").fetchall()
    if not count:
        con.execute(f"drop table {found}")
        return 0
    first = [
        line
        for (line,) in con.execute(
            f"select line from {found} order by line limit {LISTED_LINES}"
        ).fetchall()
    ]
    if not has_line_identity(table.plan):
        con.execute(f"drop table {found}")
        messages.append(
            f"{table.name}: kept {count:,} line(s) identical to an earlier line "
            f"({table.lines(first, count)}): the file has no transaction_id or product_sku, so "
            "each line is an order of its own and each counts as a repeat purchase. If the "
            "file joins overlapping exports, remove the repeated part before running."
        )
        return 0
    delete = f"delete from {table.relation} where {table.line()} in (select line from {found})"
    con.execute(delete)
    con.execute(f"drop table {found}")
    messages.append(
        f"{table.name}: dropped {count:,} exact duplicate line(s) "
        f"({table.lines(first, count)}): each repeats an earlier line value for value, "
        "as a double export does; the first copy was kept."
    )
    return int(count)


def _customers_without_sales(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, StagedTable]
) -> list[str]:
    sales, customers = tables.get("online_sales"), tables.get("customers_data")
    if sales is None or customers is None:
        return []
    # The distinct buyers first: a hash table of customers, not of sales lines.
    customer, buyer = comparable(customers, "customerid", sales, "customerid")
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


#: What an input that is not given means for the results.
_NOT_GIVEN = {
    "customers_data": "every customer's gender, location and tenure_months are null",
    "discount_coupon": "no coupon discount applies",
    "tax_amount": "no GST is added",
    "marketing_spend": "the segments do not use it",
}


def not_given_notes(data_dir: Path, tables: Iterable[StagedTable]) -> dict[str, TableRepairs]:
    """Raw table name -> a note on an input that is not given, or on the sales columns that
    are not, for the run summary."""
    notes = {}
    for table in tables:
        raw = table.plan.table
        if not table.plan.is_given:
            notes[raw.table_name] = TableRepairs(
                (
                    f"{raw.file_stem}: not given (no {raw.file_stem}.csv or .parquet in "
                    f"{data_dir}, no [inputs.{input_key(raw)}]); {_NOT_GIVEN[raw.table_name]}.",
                )
            )
        elif table.plan.absent_columns and raw.table_name == "online_sales":
            absent = [c for c in table.plan.absent_columns if c not in REVENUE_COLUMNS[0]]
            if not absent:
                continue
            order = " (each line is one order)" if "transaction_id" in absent else ""
            revenue = "; the amount is each line's revenue" if table.plan.has("amount") else ""
            note = f"{table.name}: no column {', '.join(absent)}{order}{revenue}."
            notes[raw.table_name] = TableRepairs((note,))
    return notes
