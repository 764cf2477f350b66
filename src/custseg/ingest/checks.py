"""Apply the input rules (:mod:`custseg.ingest.rules`) to the staged tables; reject the input
with one message naming the file, line, column, value, count and fix when a rule is broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from custseg.errors import InputDataError
from custseg.ingest.invoice_checks import (
    UnmatchedCategory,
    amount_problems,
    category_problems,
    lookup_column_problems,
    unmatched_categories,
)
from custseg.ingest.layout import UNPARSED_DATE_PREFIX
from custseg.ingest.line_keys import KEY_RULES, KeyRule
from custseg.ingest.read_errors import shown
from custseg.ingest.rules import VALUE_RULES, ValueRule, fractional_id_rule
from custseg.ingest.staged import LISTED_LINES, Problem, StagedTable, comparable

#: Other broken rules listed after the first, at most.
_LISTED_PROBLEMS = 8


def reject_broken_rules(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, StagedTable],
    unmatched: Sequence[UnmatchedCategory] | None = None,
    *,
    strict_amounts: bool = False,
) -> None:
    """Check every staged table against its rules, and the sales against the other files.

    Parameters
    ----------
    con
        DuckDB connection holding the staged tables.
    tables
        Raw table name -> the staged table holding its rows.
    unmatched
        The coupon and GST lines naming a category no sale has
        (:func:`~custseg.ingest.invoice_checks.unmatched_categories`); found when not given.
    strict_amounts
        Reject a sales line with 0 in quantity, avg_price or amount (else it is skipped and
        counted by :func:`~custseg.ingest.repairs.repair`).

    Raises
    ------
    InputDataError
        When a rule is broken: the message names file, line, column, value, count and the fix,
        then lists the other broken rules.
    """
    problems: list[Problem] = []
    for name, table in tables.items():
        # A column the file does not have is null on every line: no rule applies to it.
        rules = tuple(
            rule
            for rule in VALUE_RULES.get(name, ())
            if table.plan.has(rule.column) and (strict_amounts or not rule.strict_only)
        )
        rules += tuple(fractional_id_rule(column) for column in table.plan.fractional_ids)
        problems += _value_problems(con, table, rules)
        if name in KEY_RULES:
            problems += _key_problems(con, table, KEY_RULES[name])
    if unmatched is None:
        unmatched = unmatched_categories(con, tables)
    problems += category_problems(con, tables, unmatched)
    problems += lookup_column_problems(tables)
    problems += _reference_problems(con, tables)
    problems += amount_problems(con, tables)
    if problems:
        raise InputDataError(_rejection(problems))


def _value_problems(
    con: duckdb.DuckDBPyConnection, table: StagedTable, rules: Sequence[ValueRule]
) -> list[Problem]:
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
            f"where {rule.predicate(table)} order by line limit {LISTED_LINES}"
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
            Problem(
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

    The loader writes such a date as ``unparseable with date_format <format>: <value>`` so
    that it stays visible; the message shows the user's value and format instead.
    """
    text = "" if value is None else str(value)
    if not text.startswith(UNPARSED_DATE_PREFIX) or ": " not in text:
        return None
    date_format, original = text[len(UNPARSED_DATE_PREFIX) :].rsplit(": ", 1)
    return original, date_format


def _key_problems(
    con: duckdb.DuckDBPyConnection, table: StagedTable, rule: KeyRule
) -> list[Problem]:
    columns = table.columns
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
        Problem(
            message=(
                f"{where}, {detail}. {n_keys:,} {rule.what}(s) appear with different values "
                f"on {int(n_lines):,} lines. Keep one line per {rule.what} (remove or correct "
                "the wrong one), then run again."
            ),
            summary=f"{table.name} {table.at(first_row[0])}, {detail}",
        )
    ]


def _reference_problems(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, StagedTable]
) -> list[Problem]:
    sales = tables.get("online_sales")
    problems: list[Problem] = []
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
        if target is None or not sales.plan.has(column):
            continue
        value, target_value = comparable(sales, column, target, target_column)
        # The distinct values first, and the lines only when one is missing: at 50M lines a
        # hash table of the values costs 0.5 s for the customer ids and 0.15 s for the
        # categories, a probe per line 0.9 and 0.85 s (measured).
        ((missing_values,),) = con.execute(f"""
            select count(*) from (select distinct {value("s")} as v from {sales.relation} as s)
            where v is not null and not exists (
                select 1 from {target.relation} as t where {target_value("t")} = v
            )
        """).fetchall()
        if not missing_values:
            continue
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
            f"select line, v from ({missing}) order by line limit {LISTED_LINES}"
        ).fetchall()
        first_line, value = examples[0]
        no_gst = " (it has no GST)" if target_name == "tax_amount" else ""
        head = (
            f"{sales.path} {sales.at(first_line)}, column {column}: {shown(value)} is not "
            f"{what} of {target.name}{no_gst}"
        )
        problems.append(
            Problem(
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


def _rejection(problems: Sequence[Problem]) -> str:
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
