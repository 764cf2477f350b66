"""How DuckDB reads one input file: the table function, its header as written, its records.

A text file is read with every value as text (``all_varchar``: no type sniffing), split on its
``delimiter`` (comma by default; ``;``, ``|``, tab) with ``"`` quotes, or on runs of spaces and
tabs (``whitespace``: quotes are then plain characters, and blank lines are skipped). Its first
line is the header. A Parquet file is read as it is.

Paths are never patterns: a path holding ``*``, ``?`` or ``[`` is read as exactly that file
(:func:`literal_pattern`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from custseg.errors import InputDataError
from custseg.ingest.layout import is_parquet
from custseg.ingest.read_errors import check_not_empty, read_error
from custseg.sql import quote_identifier, quote_literal

#: Characters DuckDB's file readers take as a glob pattern (``data[1]`` would match ``data1``).
_GLOB_CHARACTERS = frozenset("*?[")
#: The delimiter value that splits on runs of spaces and tabs.
WHITESPACE = "whitespace"
# Splits a whitespace-separated line; leading and trailing blanks are trimmed first.
_BLANKS = "' ' || chr(9)"


@dataclass(frozen=True)
class FileScan:
    """The SQL reading one file."""

    path: Path
    # FROM item giving the file's columns under their written names.
    sql: str
    # FROM item giving the same columns and a record number, and the expression of that number
    # (the header is record 1, the first data record 2).
    numbered_sql: str
    record: str
    # What separates the values of a text file (see layout.DELIMITERS).
    delimiter: str = ","


def file_scan(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str) -> FileScan:
    """How to read ``path``; its header must name at least one column.

    Raises
    ------
    InputDataError
        The file is empty, unreadable, or a whitespace-separated file has a line whose number
        of values differs from the header's.
    """
    check_not_empty(path)
    pattern = literal_pattern(con, path)
    if is_parquet(path):
        scan = f"read_parquet({quote_literal(pattern)})"
        numbered = f"read_parquet({quote_literal(pattern)}, file_row_number = true)"
        # Parquet numbers its rows itself (from 0), in parallel; report them as if the file
        # had a header line, like a CSV export of it would.
        return FileScan(path, scan, numbered, "file_row_number + 2", delimiter)
    if delimiter == WHITESPACE:
        return _whitespace_scan(con, path, pattern)
    # Header required, everything as text: no type sniffing.
    scan = (
        f"read_csv({quote_literal(pattern)}, header = true, delim = {quote_literal(delimiter)}, "
        "quote = '\"', escape = '\"', all_varchar = true, auto_detect = true)"
    )
    # Ordinality counts data rows from 1 in file order; the header is record 1.
    return FileScan(path, scan, f"{scan} with ordinality", "ordinality + 1", delimiter)


def _whitespace_scan(con: duckdb.DuckDBPyConnection, path: Path, pattern: str) -> FileScan:
    """Each line split on runs of spaces and tabs; the first non-blank line is the header."""
    # One text column per line: the unit separator does not occur in text exports (a line
    # holding one would fail as a ragged row).
    lines = (
        f"read_csv({quote_literal(pattern)}, columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = chr(31), quote = '', escape = '', auto_detect = false, strict_mode = false)"
    )
    split = (
        f"select regexp_split_to_array(trim(line, {_BLANKS}), '[ \\t]+') as parts, "
        f"ordinality as record from {lines} with ordinality "
        f"where nullif(trim(line, {_BLANKS}), '') is not null"
    )
    try:
        first = con.execute(f"select parts, record from ({split}) order by record limit 1")
        row = first.fetchone()
        if row is None:
            raise InputDataError(f"{path}: the file holds only blank lines, not even a header.")
        header, header_record = [str(name) for name in row[0]], int(row[1])
        records = f"(select * from ({split}) where record > {header_record})"
        ragged = con.execute(
            f"select record, len(parts) from {records} where len(parts) <> {len(header)} "
            "order by record limit 1"
        ).fetchone()
    except duckdb.Error as exc:
        raise read_error(path, exc, delimiter=WHITESPACE) from exc
    if ragged is not None:
        raise InputDataError(
            f"{path} line {ragged[0]}: {ragged[1]} values where the header has {len(header)} "
            f'(delimiter = "{WHITESPACE}": values are separated by spaces or tabs, so a value '
            "cannot hold one). Fix or remove the line, or export the file with another "
            "delimiter."
        )
    columns = ", ".join(
        f"parts[{i}] as {quote_identifier(name)}" for i, name in enumerate(header, start=1)
    )
    # Records are the file's lines (blank ones included), so messages name physical lines.
    numbered = f"(select {columns}, record from {records})"
    return FileScan(path, f"(select {columns} from {records})", numbered, "record", WHITESPACE)


def describe(con: duckdb.DuckDBPyConnection, scan: FileScan) -> list[tuple[str, str]]:
    """The file's (column name, DuckDB type) pairs.

    Raises
    ------
    InputDataError
        DuckDB cannot read the file; the message names the line when it can be found.
    """
    try:
        rows = con.execute(f"describe select * from {scan.sql}").fetchall()
    except duckdb.Error as exc:
        raise read_error(scan.path, exc, delimiter=scan.delimiter) from exc
    return [(str(row[0]), str(row[1])) for row in rows]


def written_header(path: Path, found: Sequence[str], delimiter: str) -> Sequence[str]:
    """The column names as the file writes them (DuckDB renames repeated ones, ``x_1``).

    A text header is read with Python's csv module (or split on blanks); a Parquet file's
    names come from its schema. When they cannot be read or do not line up with DuckDB's,
    DuckDB's are used.
    """
    try:
        if is_parquet(path):
            header = pq.read_schema(path).names
        else:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                if delimiter == WHITESPACE:
                    header = next((line.split() for line in handle if line.strip()), [])
                else:
                    header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, ValueError, csv.Error):  # DuckDB read it: its names are good enough
        return found
    return header if len(header) == len(found) else found


def literal_pattern(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """What to give DuckDB so that it reads exactly the file ``path``, never a glob match.

    DuckDB reads a path holding ``*``, ``?`` or ``[`` as a pattern: a data folder ``data[1]``
    would load the files of ``data1``. Each such character is written as a one-character class
    (``[[]``), which matches only itself; DuckDB's own glob() then confirms that the pattern
    names that one file. Paths without them are given as they are.

    Raises
    ------
    InputDataError
        DuckDB would not read exactly this file (a DuckDB whose patterns differ).
    """
    text = str(path)
    if not _GLOB_CHARACTERS & set(text):
        return text
    pattern = "".join(f"[{c}]" if c in _GLOB_CHARACTERS else c for c in str(path.absolute()))
    rows = con.execute("select file from glob(?)", [pattern]).fetchall()
    matches = [Path(row[0]) for row in rows]
    if [match.resolve() for match in matches] != [path.resolve()]:
        raise InputDataError(
            f"{path}: DuckDB cannot read this path literally (its * ? or [ make it a pattern "
            "matching other files); rename the folder or file without those characters."
        )
    return pattern
