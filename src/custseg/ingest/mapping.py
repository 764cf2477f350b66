"""Your own files: how each of your exports maps to one of custseg's five inputs.

custseg reads five inputs (customers, sales, coupons, taxes, marketing_spend), by default laid out
like the Marketing Insights dataset. The ``[inputs.<key>]`` tables of a ``custseg.toml`` say what
each file is called, which of your columns holds each of ours and how your dates are written;
:func:`parse_inputs` validates them when the file is read, and every error names the key to set
and the values it accepts. An input without a table is read the usual way (:func:`usual_input`).

Names from the file never become SQL text: file names are quoted as literals, column names as
identifiers, date formats as literals (:mod:`custseg.sql`).

Identifiers are text end to end: a CSV is read with every value as text (``007`` stays ``007``);
a Parquet text column keeps its values; a Parquet integer column becomes its decimal text (an
integer cannot hold leading zeros, so nothing is lost). There is nothing to configure for ids.

Only the sales are required. An optional input (customers, coupons, taxes, marketing_spend)
without a table is read from its usual file when the data folder has one, and is otherwise not
given: its raw table is then empty (see :mod:`custseg.ingest.layout`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custseg.errors import ConfigError, InputDataError
from custseg.ingest.date_formats import check_date_format, normalize_date_format
from custseg.ingest.layout import (
    DEFAULT_DATE_FORMAT,
    DEFAULT_DELIMITER,
    DELIMITERS,
    FILE_SUFFIXES,
    INPUT_KEYS,
    RAW_TABLES,
    SUPPORTED_SUFFIXES,
    RawTable,
    input_key,
    is_parquet,
    normalize_column,
    raw_table,
)

__all__ = ["InputSpec", "check_date_format", "check_keys", "parse_inputs", "usual_input"]

#: Keys of an ``[inputs.<key>]`` table.
INPUT_OPTIONS = ("file", "date_format", "delimiter", "columns")


@dataclass(frozen=True)
class InputSpec:
    """How one of the user's files becomes one raw input (one ``[inputs.<key>]`` table)."""

    # Friendly key: customers, sales, coupons, taxes or marketing_spend.
    key: str
    # File name in the data folder (or a path relative to it), .csv or .parquet; None = the
    # usual name (CustomersData.csv or .parquet, ...).
    file: str | None = None
    # (our column, their column) pairs, only for columns whose names differ.
    columns: tuple[tuple[str, str], ...] = ()
    # How the date column is written as text in the file: a name of
    # custseg.ingest.date_formats (ISO, YYYYMMDD, ...) or a strftime format; M/D/YYYY by
    # default. Typed Parquet DATE or TIMESTAMP columns need no format.
    date_format: str = DEFAULT_DATE_FORMAT
    # What separates the values of a text file: a value of layout.DELIMITERS (",", ";", "|",
    # a tab or "whitespace").
    delimiter: str = DEFAULT_DELIMITER
    # The config file this came from, named in error messages; None = read the usual way.
    config_path: Path | None = None

    @property
    def table(self) -> RawTable:
        """The raw input this spec maps."""
        return raw_table(self.key)

    @property
    def is_configured(self) -> bool:
        """Whether a config file describes this input (its messages then name the file's keys)."""
        return self.config_path is not None

    def source_column(self, column: str) -> str:
        """The file's name for our ``column`` (ours when not mapped)."""
        return dict(self.columns).get(column, column)

    def where(self, suffix: str = "") -> str:
        """``[inputs.<key><suffix>] of <config file>``, for messages."""
        place = f"[inputs.{self.key}{suffix}]"
        return f"{place} of {self.config_path}" if self.config_path else place

    def find_file(self, data_dir: Path) -> Path | None:
        """The file to read: the configured one, else the one usual name in ``data_dir``;
        None for an optional input that is neither configured nor in the folder.

        Raises
        ------
        InputDataError
            A configured file or the sales are missing, or both a ``.csv`` and a ``.parquet``
            of the usual name exist.
        """
        if self.file is not None:
            path = data_dir / self.file
            if not path.is_file():
                raise InputDataError(
                    f"{path}: no such file. file = {self.file!r} in {self.where()} is read from "
                    f"the data folder {data_dir}; fix the name or the data folder."
                )
            return path
        table = self.table
        candidates = [
            data_dir / f"{table.file_stem}{suffix}"
            for suffix in SUPPORTED_SUFFIXES
            if (data_dir / f"{table.file_stem}{suffix}").is_file()
        ]
        if not candidates and table.optional:
            return None
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


def usual_input(table: RawTable) -> InputSpec:
    """The spec of an input no config file describes: the usual file, columns and dates."""
    return InputSpec(key=input_key(table))


def specs_for_every_input(inputs: Sequence[InputSpec] = ()) -> list[InputSpec]:
    """One spec per raw input, in the order of ``RAW_TABLES``: configured ones, else the usual."""
    configured = {spec.table.table_name: spec for spec in inputs}
    return [configured.get(table.table_name) or usual_input(table) for table in RAW_TABLES]


# ----------------------------------------------------------------------- [inputs] parsing


def parse_inputs(inputs: Mapping[str, Any], path: Path) -> tuple[InputSpec, ...]:
    """Validate the ``[inputs]`` table of the config file ``path``.

    Raises
    ------
    ConfigError
        An input, key or column is unknown, a file name is not a .csv or .parquet name, or a
        date format cannot hold a whole date; the message names the key and what to write.
    """
    check_keys(inputs, tuple(INPUT_KEYS), f"[inputs] of {path}", "input")
    return tuple(_input_spec(key, inputs[key], path) for key in INPUT_KEYS if key in inputs)


def check_keys(table: Mapping[str, Any], valid: Sequence[str], where: str, what: str) -> None:
    """Refuse keys of ``table`` that are not in ``valid``, naming the valid ones."""
    unknown = [key for key in table if key not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown {what} {', '.join(repr(key) for key in unknown)}; "
            f"valid: {', '.join(valid)}."
        )


def _string(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} in {where} must be a non-empty string in quotes, not {value!r}.")
    return value


def _input_spec(key: str, table: Any, path: Path) -> InputSpec:
    where = f"[inputs.{key}] of {path}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"inputs.{key} in {path} must be a table ([inputs.{key}]).")
    check_keys(table, INPUT_OPTIONS, where, "key")
    raw = raw_table(key)
    file = _string(table, "file", where)
    if file is not None:
        _check_file_name(file, where)
    date_format = _string(table, "date_format", where)
    if date_format is not None and not raw.date_columns:
        raise ConfigError(
            f"date_format in {where}: {key} has no date column; remove it (only sales and "
            "marketing_spend have dates)."
        )
    if date_format is not None:
        date_format = normalize_date_format(date_format, f"date_format in {where}")
    return InputSpec(
        key=key,
        file=file,
        columns=_columns(key, table.get("columns", {}), raw, path),
        date_format=date_format or DEFAULT_DATE_FORMAT,
        delimiter=_delimiter(table.get("delimiter"), file, where),
        config_path=path,
    )


def _check_file_name(file: str, where: str) -> None:
    if not file.lower().endswith(FILE_SUFFIXES):
        raise ConfigError(
            f"file in {where}: {file!r} must end in {', '.join(FILE_SUFFIXES)} (delimited "
            "text with a header row, or Parquet)."
        )


def _delimiter(value: Any, file: str | None, where: str) -> str:
    if value is None:
        return DEFAULT_DELIMITER
    text = value if not isinstance(value, str) or not value.strip() else value.strip().lower()
    delimiter = DELIMITERS.get(text) if isinstance(text, str) else None
    if delimiter is None:
        raise ConfigError(
            f"delimiter in {where}: {value!r} is not one custseg reads; write one of "
            '",", ";", "|", "tab" or "whitespace" (runs of spaces and tabs).'
        )
    if file is not None and is_parquet(Path(file)):
        raise ConfigError(
            f"delimiter in {where}: {file!r} is a Parquet file, which has no delimiter; "
            "remove the delimiter."
        )
    return delimiter


def _columns(key: str, columns: Any, raw: RawTable, path: Path) -> tuple[tuple[str, str], ...]:
    where = f"[inputs.{key}.columns] of {path}"
    if not isinstance(columns, Mapping):
        raise ConfigError(
            f'inputs.{key}.columns in {path} must be a table of our_name = "your name".'
        )
    pairs: dict[str, str] = {}
    for ours, theirs in columns.items():
        column = normalize_column(ours)
        if column not in raw.columns:
            raise ConfigError(
                f"{where}: {ours!r} is not a column of {key}; ours are "
                f'{", ".join(raw.columns)} (write our_name = "your name").'
            )
        if not isinstance(theirs, str) or not theirs.strip():
            raise ConfigError(
                f"{ours} in {where} must be your column's name in quotes, not {theirs!r}."
            )
        pairs[column] = theirs
    readers: dict[str, list[str]] = {}
    for column in raw.columns:
        readers.setdefault(normalize_column(pairs.get(column, column)), []).append(column)
    clashes = {source: names for source, names in readers.items() if len(names) > 1}
    if clashes:
        source, names = next(iter(clashes.items()))
        raise ConfigError(
            f"{where}: {' and '.join(names)} would both read your column {source!r}; map each "
            "of our columns to a different column of yours."
        )
    return tuple((column, pairs[column]) for column in raw.columns if column in pairs)
