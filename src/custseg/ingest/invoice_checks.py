"""The checks the invoice formula needs across files: categories that must match, amounts that
must fit.

The invoice value of a sales line is quantity * price * (1 - discount) * (1 + GST) + delivery
charges, the discount and the GST looked up by the line's category in Discount_Coupon and
Tax_amount (``int_sales_lines_priced``). Two ways it could go silently wrong are checked here:

- **Categories.** The lookups match categories exactly (after trimming). A coupon or GST line
  whose category differs from a sales category only in case (``apparel`` for ``Apparel``) would
  apply to no sale: every discount of that category would be dropped without a word. Such a
  line is rejected naming the sales category it resembles; custseg does not guess that the two
  are the same. A category no sale has at all, even ignoring case (the real Discount_Coupon's
  ``Notebooks``), is harmless and noted.
- **Amounts.** dbt stores invoice amounts and their sums as ``decimal(38, 10)``
  (``type_money``), which holds less than 10**28; a larger value fails inside dbt naming no
  line. So each line's quantity * price * (1 + GST) + delivery charges (the invoice before any
  discount, which can only lower it), or its ``amount`` when the file gives one, and the sum of
  them over all lines must stay below 10**28. A GST or delivery charge that is not given is 0.
- **Lookup columns.** Without an ``amount``, a coupon or GST file given for sales without the
  columns it is looked up by (``product_category``; ``coupon_status`` for coupons) would apply
  to no sale: rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from custseg.ingest.read_errors import shown
from custseg.ingest.staged import LISTED_LINES, Problem, StagedTable

#: The amounts dbt's ``type_money()`` (decimal(38, 10)) holds are below this.
MONEY_LIMIT = 10**28
_MONEY_LIMIT_TEXT = "10^28 (dbt stores invoice amounts as decimal(38, 10))"
#: The files naming the categories the invoice formula looks up, and what they give a sale.
_LOOKUPS = (("discount_coupon", "coupon"), ("tax_amount", "GST"))


@dataclass(frozen=True)
class UnmatchedCategory:
    """A coupon or GST line whose category is not written as any sales category."""

    table: StagedTable
    line: int
    value: str
    # The sales category equal to it when case is ignored; None when no sales category is.
    resembles: str | None


def unmatched_categories(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, StagedTable]
) -> tuple[UnmatchedCategory, ...]:
    """The coupon and GST lines whose category (trimmed) no sales line has, in file order.

    One pass over the sales finds their distinct categories (of the values as stored, then
    trimmed: a hash table of a few categories); the coupon and tax files are small.
    """
    sales = tables.get("online_sales")
    if sales is None or not sales.plan.has("product_category"):
        return ()
    column = sales.column("product_category")
    sold = {
        str(category)
        for (category,) in con.execute(
            f"select distinct {sales.text('product_category')} from "
            f"(select distinct {column} from {sales.relation}) as {column}"
        ).fetchall()
        if category is not None
    }
    by_lower: dict[str, str] = {}
    for category in sorted(sold):
        by_lower.setdefault(category.lower(), category)
    found = []
    for table_name, _ in _LOOKUPS:
        table = tables.get(table_name)
        if table is None:
            continue
        rows = con.execute(
            f"select {table.line()} as line, {table.text('product_category')} as category "
            f"from {table.relation} where category is not null order by line"
        ).fetchall()
        found += [
            UnmatchedCategory(table, int(line), str(value), by_lower.get(str(value).lower()))
            for line, value in rows
            if value not in sold
        ]
    return tuple(found)


def category_problems(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, StagedTable],
    unmatched: Sequence[UnmatchedCategory],
) -> list[Problem]:
    """Coupon and GST lines naming a sales category in another case: rejected."""
    problems = []
    sales = tables.get("online_sales")
    for table_name, gives in _LOOKUPS:
        found = [
            f for f in unmatched if f.resembles and f.table.plan.table.table_name == table_name
        ]
        if not found or sales is None:
            continue
        first = found[0]
        table = first.table
        ((sales_line,),) = con.execute(
            f"select min({sales.line()}) from {sales.relation} "
            f"where {sales.text('product_category')} = ?",
            [first.resembles],
        ).fetchall()
        head = (
            f"{table.at(first.line)}, column product_category: {shown(first.value)} is not "
            f"written as any category of {sales.name}, which has {shown(first.resembles)} "
            f"({sales.at(int(sales_line))})"
        )
        listing = (
            "" if len(found) == 1 else f" ({table.lines([f.line for f in found], len(found))})"
        )
        problems.append(
            Problem(
                message=(
                    f"{table.path} {head}. Categories are matched exactly, case included, so its "
                    f"{gives} would apply to no sale. {len(found):,} line(s) break this rule"
                    f"{listing}. Write the category exactly as the sales do, then run again."
                ),
                summary=f"{table.name} {head}",
            )
        )
    return problems


def unmatched_category_notes(unmatched: Sequence[UnmatchedCategory]) -> dict[str, str]:
    """Raw table name -> a note on its lines naming a category no sale has (harmless)."""
    notes = {}
    for table_name, gives in _LOOKUPS:
        found = [
            f for f in unmatched if not f.resembles and f.table.plan.table.table_name == table_name
        ]
        if not found:
            continue
        table = found[0].table
        values = sorted({f.value for f in found})
        examples = ", ".join(shown(value) for value in values[:3])
        notes[table_name] = (
            f"{table.name}: {len(found):,} line(s) name a category no sales line has "
            f"({examples}{', ...' if len(values) > 3 else ''}; first at "
            f"{table.at(found[0].line)}); their {gives} applies to no sale."
        )
    return notes


def lookup_column_problems(tables: Mapping[str, StagedTable]) -> list[Problem]:
    """Coupon or GST files given for sales that lack the columns they are looked up by."""
    sales = tables.get("online_sales")
    if sales is None or sales.plan.has("amount"):
        return []
    problems = []
    for table_name, gives in _LOOKUPS:
        table = tables.get(table_name)
        needed = (
            ("product_category", "coupon_status") if gives == "coupon" else ("product_category",)
        )
        missing = [column for column in needed if not sales.plan.has(column)]
        if table is None or not missing:
            continue
        head = f"{sales.name} has no column {' or '.join(missing)}"
        problems.append(
            Problem(
                message=(
                    f"{sales.path}: the file has no column {' or '.join(missing)}, so the "
                    f"{gives} of {table.path} would apply to no sale. Add the column (or map it "
                    f"under [inputs.sales.columns]), or leave {table.name} out, then run again."
                ),
                summary=f"{head}: the {gives} of {table.name} would apply to no sale",
            )
        )
    return problems


def amount_problems(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, StagedTable]
) -> list[Problem]:
    """Sales lines whose invoice amount, or the sum of all of them, dbt's decimal cannot hold.

    One streaming pass with the highest GST bounds every line; only when a line or the total
    reaches the limit is each line priced with its own category's GST.
    """
    sales, taxes = tables.get("online_sales"), tables.get("tax_amount")
    if sales is None:
        return []
    columns = _amount_columns(sales)
    if taxes is None or not sales.plan.has("product_category") or columns == ("amount",):
        taxes = None
    if _text_amounts_fit(con, sales, columns):
        return []
    finite = " and ".join(f"isfinite({sales.number(c)})" for c in columns)
    highest_gst = (
        f"(select coalesce(max(greatest({taxes.number('gst')}, 0)), 0) from {taxes.relation})"
        if taxes is not None
        else "0"
    )
    over, total = con.execute(
        f"select count(*) filter (where {_bound(sales, columns, highest_gst)} >= {MONEY_LIMIT}), "
        f"sum({_bound(sales, columns, highest_gst)}) from {sales.relation} where {finite}"
    ).fetchone()
    if not over and (total is None or total < MONEY_LIMIT):
        return []
    gst = f"coalesce(greatest({taxes.number('gst', 't')}, 0), 0)" if taxes is not None else "0"
    join = (
        f"left join {taxes.relation} as t on {taxes.text('product_category', 't')} = "
        f"{sales.text('product_category', 's')}"
        if taxes is not None
        else ""
    )
    priced = f"""
        select {sales.line("s")} as line, {_bound(sales, columns, gst, "s")} as amount,
            {", ".join(f"{sales.as_written(c, 's')} as {c}" for c in columns)},
            {", ".join(f"{sales.number(c, 's')} as {c}_number" for c in columns)}
        from {sales.relation} as s {join}
        where {" and ".join(f"isfinite({sales.number(c, 's')})" for c in columns)}
    """
    count, total = con.execute(
        f"select count(*) filter (where amount >= {MONEY_LIMIT}), sum(amount) from ({priced})"
    ).fetchone()
    formula = _formula(columns)
    if count:
        examples = con.execute(
            f"select * from ({priced}) where amount >= {MONEY_LIMIT} order by line "
            f"limit {LISTED_LINES}"
        ).fetchall()
        return [_line_problem(sales, examples, int(count), columns)]
    if total is not None and total >= MONEY_LIMIT:
        return [
            Problem(
                message=(
                    f"{sales.path}: the invoice amounts of all lines ({formula}) add up to "
                    f"{total:.4g}, and their sums must stay below {_MONEY_LIMIT_TEXT}. Check the "
                    "quantities and prices for values in the wrong unit, then run again."
                ),
                summary=f"{sales.name}: the invoice amounts add up to {total:.4g}",
            )
        ]
    return []


def _amount_columns(sales: StagedTable) -> tuple[str, ...]:
    """The columns a line's invoice amount is made of in this file, in the order a message
    names the largest: the amount alone, or quantity, price and delivery charges when given."""
    if sales.plan.has("amount"):
        return ("amount",)
    return tuple(c for c in _AMOUNT_COLUMNS if sales.plan.has(c))


def _bound(sales: StagedTable, columns: Sequence[str], gst: str, alias: str = "") -> str:
    """The invoice amount before any discount (at most; GST ``gst``), as a double."""
    if columns == ("amount",):
        return f"abs({sales.number('amount', alias)})"
    quantity, price = (sales.number(c, alias) for c in ("quantity", "avg_price"))
    delivery = (
        f" + abs({sales.number('delivery_charges', alias)})"
        if "delivery_charges" in columns
        else ""
    )
    return f"(abs({quantity} * {price}) * (1 + {gst}){delivery})"


def _formula(columns: Sequence[str]) -> str:
    if columns == ("amount",):
        return "amount"
    delivery = " + delivery_charges" if "delivery_charges" in columns else ""
    return f"quantity * avg_price * (1 + GST){delivery}"


def _text_amounts_fit(
    con: duckdb.DuckDBPyConnection, sales: StagedTable, columns: Sequence[str]
) -> bool:
    """Whether text amounts are too short to reach the limit, from their lengths alone.

    Parsing 50 million texts as numbers costs seconds; measuring them is cheap. A number of n
    characters is below 10**n (a value that is no plain number breaks another rule), GST is
    at most 1, so the invoice amounts of all lines stay below rows * (2 * 10**(longest
    quantity + price) + 10**(longest delivery)). Typed columns are read as numbers: cheap.
    """
    if any(sales.kind(column) != "text" for column in columns):
        return False
    if columns == ("amount",):
        product = f"length({sales.column('amount')})"
    else:
        product = f"length({sales.column('quantity')}) + length({sales.column('avg_price')})"
    charge = (
        f"max(length({sales.column('delivery_charges')}))" if "delivery_charges" in columns else "0"
    )
    product, charge, rows = con.execute(
        f"select max({product}), {charge}, count(*) from {sales.relation}"
    ).fetchone()
    if not rows:
        return True
    return rows * (2 * 10 ** int(product or 0) + 10 ** int(charge or 0)) < MONEY_LIMIT


#: The columns of an invoice amount, in the order a message names the largest.
_AMOUNT_COLUMNS = ("quantity", "avg_price", "delivery_charges")


def _line_problem(
    sales: StagedTable, examples: list[tuple], count: int, columns: Sequence[str]
) -> Problem:
    line, amount = int(examples[0][0]), examples[0][1]
    n = len(columns)
    written = dict(zip(columns, examples[0][2 : 2 + n], strict=True))
    numbers = dict(zip(columns, examples[0][2 + n : 2 + 2 * n], strict=True))
    column = max(columns, key=lambda c: abs(numbers[c]))
    others = ", ".join(f"{c} {shown(written[c])}" for c in columns if c != column)
    detail = (
        f"column {column}: {shown(written[column])}{f' (with {others})' if others else ''} "
        f"makes an invoice amount of {amount:.4g}"
    )
    listing = "" if count == 1 else f" ({sales.lines([int(row[0]) for row in examples], count)})"
    return Problem(
        message=(
            f"{sales.path} {sales.at(line)}, {detail}; {_formula(columns)} must stay below "
            f"{_MONEY_LIMIT_TEXT}. {count:,} line(s) break "
            f"this rule{listing}. Correct the value or remove the line, then run again."
        ),
        summary=f"{sales.name} {sales.at(line)}, {detail}",
    )
