"""One staged input table as the rules see it: its SQL name, its line numbers, its column types.

The rules, checks and repairs of :mod:`custseg.ingest` read a column as staging will (trimmed
text, null when empty, or the typed value) and name a row by its line in the user's file; a
:class:`StagedTable` writes those SQL expressions for one table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from custseg.ingest.files import RawFilePlan
from custseg.ingest.layout import LINE_COLUMN, is_parquet
from custseg.ingest.physical_lines import PhysicalLines
from custseg.ingest.scans import WHITESPACE
from custseg.sql import quote_identifier

#: Lines listed in a message, at most.
LISTED_LINES = 5
#: DuckDB types the checks treat as numbers (the loader keeps no other numeric types).
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")


@dataclass(frozen=True)
class Problem:
    """A broken input rule, as the rejection reports it."""

    # The full message of the rule's first offending line.
    message: str
    # One-line summary when it is not the first problem.
    summary: str


def _text_value(qualified: str) -> str:
    """The trimmed text of a text column; null when empty, as staging sees it."""
    return f"nullif(trim({qualified}), '')"


@dataclass(frozen=True)
class StagedTable:
    """One raw table as DuckDB holds it for checking."""

    plan: RawFilePlan
    relation: str
    # SQL giving a row's file line, qualified by ``alias.`` where needed (see _line_template).
    line_template: str
    # DuckDB type of each column (upper case): VARCHAR, or a kept Parquet type.
    types: Mapping[str, str]
    # The line of the file each record starts on (a quoted value may hold a line break).
    physical: PhysicalLines | None = field(default=None, compare=False)

    def line(self, alias: str = "") -> str:
        """SQL of a row's line in the file (the header is line 1)."""
        return self.line_template.format(alias=f"{alias}." if alias else "")

    def column(self, column: str, alias: str = "") -> str:
        """The quoted column, qualified by ``alias`` when given."""
        return f"{alias}.{quote_identifier(column)}" if alias else quote_identifier(column)

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

    def number(self, column: str, alias: str = "") -> str:
        """The value as a double: a typed number cast, a text one parsed (null when it is not)."""
        if self.kind(column) == "number":
            return f"cast({self.column(column, alias)} as double)"
        return f"try_cast({self.text(column, alias)} as double)"

    def as_written(self, column: str, alias: str = "") -> str:
        """The value for a message: the text as read, or a typed value as DuckDB writes it
        ('nan', 'infinity'), not as Python would hold it."""
        if self.kind(column) == "text":
            return self.column(column, alias)
        return f"cast({self.column(column, alias)} as varchar)"

    def key_value(self, column: str, how: str) -> str:
        """A key column as a key rule compares it: "value", "lower" (text) or "date"."""
        if how == "lower":
            return f"lower({self.text(column)})"
        if how == "date" and self.kind(column) != "date":
            return f"cast(try_strptime({self.text(column)}, '%m/%d/%Y') as date)"
        return self.value(column)

    @property
    def columns(self) -> tuple[str, ...]:
        """Our columns of the table (not the line number)."""
        return self.plan.table.columns

    @property
    def path(self) -> Path:
        assert self.plan.source_path is not None, "only given inputs are checked"
        return self.plan.source_path

    @property
    def name(self) -> str:
        return self.plan.source_path.name

    def at(self, line: int) -> str:
        """``line N`` in a CSV (header = line 1), ``row N`` in a Parquet file.

        ``line`` is the record's number as :meth:`line` gives it; in a CSV file the message
        names the line the record starts on (see :mod:`custseg.ingest.physical_lines`).
        """
        if not is_parquet(self.path):
            return f"line {self.physical(line) if self.physical else line}"
        return f"row {line - 1}"

    def lines(self, lines: Sequence[int], total: int) -> str:
        """``lines 2, 3, ...`` (``rows`` in a Parquet file) for a message."""
        shown_lines = ", ".join(self.at(line).split()[1] for line in lines[:LISTED_LINES])
        more = ", ..." if total > len(lines[:LISTED_LINES]) else ""
        word = "row" if is_parquet(self.path) else "line"
        return f"{word}{'' if total == 1 else 's'} {shown_lines}{more}"


def staged_table(con: duckdb.DuckDBPyConnection, plan: RawFilePlan, relation: str) -> StagedTable:
    """Describe the table ``relation`` of ``con``, which holds ``plan``'s file as just staged."""
    ((rows,),) = con.execute(f"select count(*) from {relation}").fetchall()
    # A whitespace-separated file has no quotes: its records are its lines already.
    physical = (
        PhysicalLines(plan.source_path, int(rows) + 1, plan.delimiter)
        if plan.source_path is not None and plan.delimiter != WHITESPACE
        else None
    )
    return StagedTable(
        plan,
        relation,
        _line_template(con, plan, relation),
        _column_types(con, relation),
        physical,
    )


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


def _column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"describe {relation}").fetchall()
    return {str(row[0]): str(row[1]).upper() for row in rows}


def comparable(
    table: StagedTable, column: str, other: StagedTable, other_column: str
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
