"""Read the input files with DuckDB: find each file, read its header, and write the one SELECT
that turns it into its raw table.

Nothing is guessed here: a CSV file is read as text (``all_varchar``), and staging models type
it. A Parquet file already says what its columns are: where types are kept (the DuckDB target)
they land with those types (numbers, dates, text), which spares converting 50 million values to
text and parsing them back (see :func:`kept_type`); the engines loaded through a text export
(PostgreSQL, Spark) get text as from a CSV. Staging reads either (``macros/raw_columns.sql``).
Header names are trimmed and lower-cased (the real ``Discount_Coupon.csv`` has a header with a
trailing space), then renamed by the input's mapping (:mod:`custseg.ingest.mapping`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from custseg.errors import InputDataError
from custseg.ingest.layout import (
    CANONICAL_DATE_FORMAT,
    DEFAULT_DATE_FORMAT,
    ID_COLUMNS,
    LINE_COLUMN,
    UNPARSED_DATE_PREFIX,
    RawTable,
    normalize_column,
)
from custseg.ingest.mapping import InputSpec, specs_for_every_input
from custseg.ingest.read_errors import check_not_empty, read_error
from custseg.sql import quote_identifier, quote_literal

#: DuckDB types a raw column keeps when types are kept: whole and decimal numbers, dates, text.
#: Anything else (booleans, lists, blobs...) becomes text, which the input checks then judge.
_KEPT_TYPES = re.compile(
    r"(VARCHAR|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|DECIMAL\(\d+,\s*\d+\)|DATE)",
    re.IGNORECASE,
)
#: Fractional number types: an id stored so becomes its whole number's text (:func:`_id_text`).
_FRACTIONAL_TYPES = re.compile(r"(DOUBLE|FLOAT|REAL|DECIMAL\(\d+,\s*\d+\))", re.IGNORECASE)
#: Above 2**53 a double no longer holds every whole number: such an id may have been rounded.
_LARGEST_EXACT_DOUBLE = 2**53
#: Characters DuckDB's file readers take as a glob pattern (``data[1]`` would match ``data1``).
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class RawFilePlan:
    """How one input file becomes one raw table: a DuckDB SELECT producing its columns."""

    table: RawTable
    source_path: Path
    select_sql: str
    ignored_columns: tuple[str, ...]
    # Id columns the file stores as fractional numbers, made whole-number text (checked).
    fractional_ids: tuple[str, ...] = ()


def plan_inputs(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    inputs: Sequence[InputSpec] = (),
    *,
    keep_types: bool = False,
) -> list[RawFilePlan]:
    """Find every input file and read its header; nothing is written.

    Values become text, except that with ``keep_types`` typed (Parquet) columns keep their
    number, date or text type (see :func:`kept_type`). ``inputs`` (from a ``custseg.toml``)
    renames files and columns and converts configured date formats to M/D/YYYY; inputs without
    a spec are read the usual way.

    Raises
    ------
    InputDataError
        A file is missing, unreadable or lacks a column; the message names file and column.
    """
    if not data_dir.is_dir():
        raise InputDataError(f"{data_dir}: data folder not found.")
    plans = []
    for spec in specs_for_every_input(inputs):
        table = spec.table
        path = spec.find_file(data_dir)
        scan = _scan_sql(_literal_pattern(con, path))
        found = _describe(con, scan, path)
        _refuse_duplicate_columns(spec, [name for name, _ in found], path)
        expressions, ignored = select_expressions(spec, found, path, keep_types=keep_types)
        types = {normalize_column(name): type_name for name, type_name in reversed(found)}
        fractional = tuple(
            column
            for column in table.columns
            if is_fractional_id(column, types.get(normalize_column(spec.source_column(column)), ""))
        )
        select_list = ",\n    ".join(expressions)
        if table.keep_line_numbers:
            if path.suffix.lower() == ".parquet":
                # Parquet numbers its rows itself (from 0), in parallel; report them as if the
                # file had a header line, like a CSV export of it would.
                scan = scan[:-1] + ", file_row_number = true)"
                select_list = f"file_row_number + 2 as {LINE_COLUMN},\n    {select_list}"
            else:
                # Ordinality counts data rows from 1 in file order; the header is line 1.
                select_list = f"ordinality + 1 as {LINE_COLUMN},\n    {select_list}"
                scan = f"{scan} with ordinality"
        plans.append(
            RawFilePlan(
                table=table,
                source_path=path,
                select_sql=f"select {select_list} from {scan}",
                ignored_columns=ignored,
                fractional_ids=fractional,
            )
        )
    return plans


def select_expressions(
    spec: InputSpec, found: Sequence[tuple[str, str]], path: Path, *, keep_types: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """SELECT expressions producing our columns from the file's, and the columns left out.

    Parameters
    ----------
    spec
        The input's mapping (:func:`custseg.ingest.mapping.usual_input` when none is configured).
    found
        The file's (column name, DuckDB type) pairs.
    path
        The file, for messages.
    keep_types
        Keep typed (Parquet) columns as they are (:func:`kept_type`); otherwise, and for text
        dates in a configured format, the values become text.

    Raises
    ------
    InputDataError
        A column is not in the file; the message names it, and the config key that maps it.
    """
    table = spec.table
    by_normalized: dict[str, tuple[str, str]] = {}
    for name, type_name in found:
        by_normalized.setdefault(normalize_column(name), (name, type_name))
    missing = [
        column
        for column in table.columns
        if normalize_column(spec.source_column(column)) not in by_normalized
    ]
    if missing:
        raise InputDataError(_missing_columns(spec, missing, found, path))
    expressions = []
    for column in table.columns:
        name, type_name = by_normalized[normalize_column(spec.source_column(column))]
        source = quote_identifier(name)
        is_date_column = column in table.date_columns
        kept = kept_type(source, type_name, is_date_column=is_date_column)
        if is_fractional_id(column, type_name):
            expression = _id_text(source, type_name)
        elif keep_types and kept is not None:
            expression = kept
        elif is_date_column:
            expression = _date_text(spec, source, type_name)
        else:
            expression = f"cast({source} as varchar)"
        expressions.append(f"{expression} as {quote_identifier(column)}")
    used = {normalize_column(spec.source_column(column)) for column in table.columns}
    ignored = tuple(name for name, _ in found if normalize_column(name) not in used)
    return tuple(expressions), ignored


def _refuse_duplicate_columns(spec: InputSpec, found: Sequence[str], path: Path) -> None:
    """Refuse a header naming a column we read twice once case and spaces are ignored.

    ``Quantity`` beside `` QUANTITY``: DuckDB renames the second (``QUANTITY_1``) and one of
    them would be read silently; which one is right only the user knows.
    """
    written = _written_header(path, found)
    by_normalized: dict[str, list[str]] = {}
    for name in written:
        by_normalized.setdefault(normalize_column(name), []).append(name)
    read = {normalize_column(spec.source_column(column)) for column in spec.table.columns}
    for normalized, names in by_normalized.items():
        if len(names) > 1 and normalized in read:
            spellings = " and ".join(repr(name) for name in names)
            raise InputDataError(
                f"{path} line 1 (the header): {len(names)} columns, {spellings}, are the same "
                f"column {normalized!r} once case and surrounding spaces are ignored, and "
                "custseg cannot tell which one to read. Remove or rename the extra column, "
                "then run again."
            )


def _written_header(path: Path, found: Sequence[str]) -> Sequence[str]:
    """The column names as the file writes them (DuckDB renames repeated ones, ``x_1``).

    A CSV header is read with Python's csv module; a Parquet file's names come from its
    schema. When they cannot be read or do not line up with DuckDB's, DuckDB's are used.
    """
    try:
        if path.suffix.lower() == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), [])
        else:
            header = pq.read_schema(path).names
    except (OSError, ValueError, csv.Error):  # DuckDB read it: its names are good enough
        return found
    return header if len(header) == len(found) else found


def _missing_columns(
    spec: InputSpec, missing: Sequence[str], found: Sequence[tuple[str, str]], path: Path
) -> str:
    table = spec.table
    header = ", ".join(name for name, _ in found)
    if not spec.is_configured:
        hint = ""
        if len(found) == 1 and (";" in found[0][0] or "\t" in found[0][0]):
            hint = " The file looks delimited by ';' or tabs: save it comma-separated."
        return (
            f"{path}: missing column(s) {', '.join(missing)}. Found header: {header}. "
            f"Expected: {', '.join(table.columns)} "
            f"(case and surrounding spaces do not matter).{hint}"
        )
    mapped = dict(spec.columns)
    named = [
        f"{mapped[column]!r} (for {column}, set in {spec.where('.columns')})"
        if column in mapped
        else column
        for column in missing
    ]
    return (
        f"{path}: missing column(s) {', '.join(named)}. Found header: {header}. Map each of "
        f"our columns whose name differs under [inputs.{spec.key}.columns] as our_name = "
        f'"your name" (ours: {", ".join(table.columns)}; case and surrounding spaces do not '
        "matter)."
    )


def is_fractional_id(column: str, type_name: str) -> bool:
    """Whether the file stores the id ``column`` as a floating-point or decimal number."""
    return column in ID_COLUMNS and bool(_FRACTIONAL_TYPES.fullmatch(type_name.strip()))


def _id_text(source: str, type_name: str) -> str:
    """An id stored as a fractional number, as the text of its whole number (12346.0 -> 12346).

    Any other value (12346.5, NaN, infinity, a double beyond 2**53 that may have been rounded)
    keeps its own text, which holds a point, a letter or an exponent: the input check of
    fractional ids (``custseg.ingest.checks``) names it, as no whole number can.
    """
    whole = f"{source} = trunc({source})"
    if not type_name.strip().upper().startswith("DECIMAL"):
        whole = f"isfinite({source}) and abs({source}) <= {_LARGEST_EXACT_DOUBLE} and {whole}"
    integer = f"cast(cast({source} as hugeint) as varchar)"
    return f"case when {whole} then {integer} else cast({source} as varchar) end"


def _date_text(spec: InputSpec, source: str, type_name: str) -> str:
    """A date column as M/D/YYYY text (what staging parses on every engine)."""
    canonical = quote_literal(CANONICAL_DATE_FORMAT)
    if type_name.upper().startswith(("DATE", "TIMESTAMP")):
        return f"strftime({_utc(source, type_name)}, {canonical})"
    if spec.date_format == DEFAULT_DATE_FORMAT:
        return f"cast({source} as varchar)"
    # A value that does not match keeps its text behind a prefix that no date parser accepts:
    # staging's not_null test then fails instead of the day becoming null silently, and the
    # original text is not reread as M/D/YYYY (12/11/2019 written %d/%m/%Y must never become
    # December 11).
    text = f"trim(cast({source} as varchar))"
    fmt = quote_literal(spec.date_format)
    marker = quote_literal(f"{UNPARSED_DATE_PREFIX}{spec.date_format}: ")
    return f"coalesce(strftime(try_strptime({text}, {fmt}), {canonical}), {marker} || {text})"


def kept_type(source: str, type_name: str, *, is_date_column: bool) -> str | None:
    """The SELECT expression keeping a typed file column as it is, or None to make it text.

    A date column keeps a date, and a timestamp becomes its date (the time of day is not used;
    a timestamp with a time zone becomes its UTC date, see :func:`_utc`); written dates stay
    text, to be read by their format. Other columns keep numbers and text; any other type
    becomes text, whose odd value the checks then name.
    """
    type_name = type_name.strip().upper()
    if is_date_column:
        if type_name == "DATE":
            return source
        if type_name.startswith("TIMESTAMP"):
            return f"cast({_utc(source, type_name)} as date)"
        return None
    if type_name == "DATE" or not _KEPT_TYPES.fullmatch(type_name):
        return None
    return source


def _utc(source: str, type_name: str) -> str:
    """A timestamp with a time zone as the UTC time it names; other values as they are.

    Cast or formatted directly, its day would be the one of the session's time zone (the
    machine's ``TZ``): 2019-01-05 23:30 UTC is January 6 in Tokyo. Its UTC calendar date is the
    same everywhere.
    """
    if "TIME ZONE" in type_name.upper() or type_name.upper() == "TIMESTAMPTZ":
        return f"timezone('UTC', {source})"
    return source


def _literal_pattern(con: duckdb.DuckDBPyConnection, path: Path) -> str:
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


def _scan_sql(pattern: str) -> str:
    """The DuckDB table function reading one file (``pattern`` from :func:`_literal_pattern`)."""
    if pattern.lower().endswith(".csv"):
        # Comma-delimited, header required, everything as text: no type sniffing.
        return (
            f"read_csv({quote_literal(pattern)}, header = true, delim = ',', quote = '\"', "
            "escape = '\"', all_varchar = true, auto_detect = true)"
        )
    return f"read_parquet({quote_literal(pattern)})"


def _describe(con: duckdb.DuckDBPyConnection, scan: str, path: Path) -> list[tuple[str, str]]:
    check_not_empty(path)
    try:
        rows = con.execute(f"describe select * from {scan}").fetchall()
    except duckdb.Error as exc:
        raise read_error(path, exc) from exc
    return [(str(row[0]), str(row[1])) for row in rows]
