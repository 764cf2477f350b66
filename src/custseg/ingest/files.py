"""Read the input files with DuckDB: find each file, read its header, and write the one SELECT
that turns it into its raw table (how a file is scanned: :mod:`custseg.ingest.scans`).

Nothing is guessed here: a CSV file is read as text (``all_varchar``), and staging models type
it. A Parquet file already says what its columns are: where types are kept (the DuckDB target)
they land with those types (numbers, dates, text), which spares converting 50 million values to
text and parsing them back (see :func:`kept_type`); the engines loaded through a text export
(PostgreSQL, Spark) get text as from a CSV. Staging reads either (``macros/raw_columns.sql``).
Header names are trimmed and lower-cased (the real ``Discount_Coupon.csv`` has a header with a
trailing space), then renamed by the input's mapping (:mod:`custseg.ingest.mapping`).

An optional column the file does not have becomes a column of nulls, and an input that is not
given a SELECT of no rows with all its columns: the raw tables have the same columns whatever
the input, so the dbt project has one staging path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from custseg.errors import InputDataError
from custseg.ingest.date_formats import parsed_date_sql
from custseg.ingest.layout import (
    CANONICAL_DATE_FORMAT,
    DEFAULT_DATE_FORMAT,
    DEFAULT_DELIMITER,
    ID_COLUMNS,
    LINE_COLUMN,
    REVENUE_COLUMNS,
    UNPARSED_DATE_PREFIX,
    RawTable,
    normalize_column,
)
from custseg.ingest.mapping import InputSpec, specs_for_every_input
from custseg.ingest.scans import describe, file_scan, written_header
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


@dataclass(frozen=True)
class RawFilePlan:
    """How one input file becomes one raw table: a DuckDB SELECT producing its columns."""

    table: RawTable
    # The file read; None when the input is not given (select_sql then gives no rows).
    source_path: Path | None
    select_sql: str
    ignored_columns: tuple[str, ...]
    # Id columns the file stores as fractional numbers, made whole-number text (checked).
    fractional_ids: tuple[str, ...] = ()
    # Optional columns the file does not have: null on every row, and no rule checks them.
    absent_columns: tuple[str, ...] = ()
    # What separates the values of a text file (see layout.DELIMITERS).
    delimiter: str = DEFAULT_DELIMITER

    @property
    def is_given(self) -> bool:
        """Whether a file was given for this input."""
        return self.source_path is not None

    def has(self, column: str) -> bool:
        """Whether the file gives ``column`` (as opposed to nulls for an absent column)."""
        return self.is_given and column not in self.absent_columns


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
        if path is None:
            plans.append(_not_given(table))
            continue
        scan = file_scan(con, path, spec.delimiter)
        found = describe(con, scan)
        _refuse_duplicate_columns(spec, [name for name, _ in found], path)
        expressions, ignored, absent = select_expressions(spec, found, path, keep_types=keep_types)
        types = {normalize_column(name): type_name for name, type_name in reversed(found)}
        fractional = tuple(
            column
            for column in table.columns
            if column not in absent
            and is_fractional_id(column, types.get(normalize_column(spec.source_column(column))))
        )
        select_list = ",\n    ".join(expressions)
        source = scan.sql
        if table.keep_line_numbers:
            select_list = f"{scan.record} as {LINE_COLUMN},\n    {select_list}"
            source = scan.numbered_sql
        plans.append(
            RawFilePlan(
                table=table,
                source_path=path,
                select_sql=f"select {select_list} from {source}",
                ignored_columns=ignored,
                fractional_ids=fractional,
                absent_columns=absent,
                delimiter=spec.delimiter,
            )
        )
    return plans


def _not_given(table: RawTable) -> RawFilePlan:
    """The plan of an input that is not given: its columns, as text, and no rows."""
    columns = [f"cast(null as varchar) as {quote_identifier(c)}" for c in table.columns]
    if table.keep_line_numbers:
        columns.insert(0, f"cast(null as bigint) as {LINE_COLUMN}")
    return RawFilePlan(
        table=table,
        source_path=None,
        select_sql=f"select {', '.join(columns)} limit 0",
        ignored_columns=(),
        absent_columns=table.columns,
    )


def select_expressions(
    spec: InputSpec, found: Sequence[tuple[str, str]], path: Path, *, keep_types: bool
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """SELECT expressions producing our columns from the file's, the file's columns left out,
    and our optional columns the file does not have (null).

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
        A required or mapped column is not in the file, or the sales have no revenue column;
        the message names it, and the config key that maps it.
    """
    table = spec.table
    by_normalized: dict[str, tuple[str, str]] = {}
    for name, type_name in found:
        by_normalized.setdefault(normalize_column(name), (name, type_name))
    not_found = [
        column
        for column in table.columns
        if normalize_column(spec.source_column(column)) not in by_normalized
    ]
    mapped = dict(spec.columns)
    missing = [c for c in not_found if table.is_required(c) or c in mapped]
    if not missing and table.required_columns is not None:
        missing = _missing_revenue(not_found)
    if missing:
        raise InputDataError(_missing_columns(spec, missing, found, path))
    expressions = []
    for column in table.columns:
        if column in not_found:
            expressions.append(f"cast(null as varchar) as {quote_identifier(column)}")
            continue
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
    return tuple(expressions), ignored, tuple(not_found)


def _missing_revenue(not_found: Sequence[str]) -> list[str]:
    """The revenue columns to name as missing: none when the amount, or quantity and price,
    are there; the missing half of quantity and price; else "amount, or quantity and ..."."""
    if any(all(c not in not_found for c in option) for option in REVENUE_COLUMNS):
        return []
    (amount,), pair = REVENUE_COLUMNS
    if all(c in not_found for c in pair):
        return [f"{amount} (the line total), or {' and '.join(pair)}"]
    return [c for c in pair if c in not_found]


def _refuse_duplicate_columns(spec: InputSpec, found: Sequence[str], path: Path) -> None:
    """Refuse a header naming a column we read twice once case and spaces are ignored.

    ``Quantity`` beside `` QUANTITY``: DuckDB renames the second (``QUANTITY_1``) and one of
    them would be read silently; which one is right only the user knows.
    """
    written = written_header(path, found, spec.delimiter)
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


def _missing_columns(
    spec: InputSpec, missing: Sequence[str], found: Sequence[tuple[str, str]], path: Path
) -> str:
    table = spec.table
    header = ", ".join(name for name, _ in found)
    hint = _delimiter_hint(spec, found)
    if not spec.is_configured:
        return (
            f"{path}: missing column(s) {', '.join(missing)}. Found header: {header}. "
            f"Expected: {_expected(table)} "
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
        f'"your name" (ours: {_expected(table)}; case and surrounding spaces do not '
        f"matter).{hint}"
    )


def _expected(table: RawTable) -> str:
    """Our columns of ``table`` for a message: all of them, or the required and the optional."""
    if table.required_columns is None:
        return ", ".join(table.columns)
    (amount,), pair = REVENUE_COLUMNS
    revenue = {amount, *pair}
    optional = [c for c in table.columns if not table.is_required(c) and c not in revenue]
    return (
        f"{', '.join(table.required_columns)} and {amount} or {' and '.join(pair)}; "
        f"optional: {', '.join(optional)}"
    )


#: Separators a header read as one column may hold: another delimiter than the configured one.
_SEPARATORS = {";": ";", "\t": "tab", "|": "|", ",": ",", " ": "whitespace"}


def _delimiter_hint(spec: InputSpec, found: Sequence[tuple[str, str]]) -> str:
    if len(found) != 1:
        return ""
    seen = [name for sep, name in _SEPARATORS.items() if sep in found[0][0].strip()]
    if not seen:
        return ""
    where = spec.where() if spec.is_configured else f"[inputs.{spec.key}] of custseg.toml"
    return (
        f" The header was read as one column: the file looks delimited by {seen[0]!r}, not "
        f'{spec.delimiter!r}; set delimiter = "{seen[0]}" in {where}, or save the file '
        "comma-separated."
    )


def is_fractional_id(column: str, type_name: str | None) -> bool:
    """Whether the file stores the id ``column`` as a floating-point or decimal number."""
    return column in ID_COLUMNS and bool(_FRACTIONAL_TYPES.fullmatch((type_name or "").strip()))


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
    parsed = parsed_date_sql(text, spec.date_format)
    marker = quote_literal(f"{UNPARSED_DATE_PREFIX}{spec.date_format}: ")
    return f"coalesce(strftime({parsed}, {canonical}), {marker} || {text})"


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
