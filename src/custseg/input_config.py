"""Your own data: a ``custseg.toml`` file that maps your files and columns to custseg's inputs.

custseg reads five inputs (customers, sales, coupons, taxes, marketing_spend), by default laid out
like the Marketing Insights dataset. A config file says where your exports are, what each file is
called, which of your columns holds each of ours, how your dates are written, and the run settings
(as-of date, k, ...). Everything is validated when the file is read, and every error names the key
to set and the values it accepts.

Names from the file never become SQL text: file names are quoted as literals, column names as
identifiers (``raw_load.quote_identifier``), date formats as literals.

Identifiers are text end to end: a CSV is read with every value as text (``007`` stays ``007``);
a Parquet text column keeps its values; a Parquet integer column becomes its decimal text (an
integer cannot hold leading zeros, so nothing is lost). There is nothing to configure for ids.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from custseg.errors import ConfigError, InputDataError
from custseg.raw_load import (
    RAW_TABLES,
    SUPPORTED_SUFFIXES,
    RawTable,
    find_input_file,
    kept_type,
    quote_identifier,
    quote_literal,
)

#: Config file name used in the documentation and the example.
CONFIG_FILE_NAME = "custseg.toml"

#: Friendly input key in the config file -> raw table it becomes (see raw_load.RAW_TABLES).
INPUT_KEYS: dict[str, str] = {
    "customers": "customers_data",
    "sales": "online_sales",
    "coupons": "discount_coupon",
    "taxes": "tax_amount",
    "marketing_spend": "marketing_spend",
}

#: How dates are written when nothing is configured: M/D/YYYY, what staging parses.
DEFAULT_DATE_FORMAT = "%m/%d/%Y"
#: What a configured date format is converted to before the raw tables are written.
CANONICAL_DATE_FORMAT = "%-m/%-d/%Y"
#: Start of the text a date that does not match its configured format becomes. Staging cannot
#: parse it (so its not_null test fails), and it still shows the value and the format.
UNPARSED_DATE_PREFIX = "unparseable with date_format "

#: [run] key -> keyword of config.resolve_run_config (and name of the CLI option's parameter).
RUN_KEYS: dict[str, str] = {
    "data_dir": "data_dir",
    "as_of_date": "as_of_date",
    "k": "n_segments",
    "random_state": "random_state",
    "target": "target",
    "duckdb_path": "duckdb_path",
}
TARGETS = ("duckdb", "postgres", "spark")
INPUT_OPTIONS = ("file", "date_format", "columns")
# DuckDB treats these characters in a file name as a glob pattern.
_GLOB_CHARACTERS = frozenset("*?[")
# A time zone would make the calendar day depend on the session's time zone.
_TIME_ZONE_DIRECTIVES = re.compile(r"%-?[zZ]")
# Dates the format is checked on: month and day both ambiguous and not, one and two digits.
_PROBE_DATES = (dt.date(2019, 11, 23), dt.date(2021, 2, 9))


def _normalize(name: str) -> str:
    """Header names match whatever their case and surrounding spaces, as in raw_load."""
    return name.strip().lower()


def _raw_table(key: str) -> RawTable:
    return next(table for table in RAW_TABLES if table.table_name == INPUT_KEYS[key])


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
    # strftime format of the date column as text in the file; M/D/YYYY by default. Typed
    # Parquet DATE or TIMESTAMP columns need no format.
    date_format: str = DEFAULT_DATE_FORMAT
    # The config file this came from, named in error messages.
    config_path: Path | None = None

    @property
    def table(self) -> RawTable:
        """The raw input this spec maps."""
        return _raw_table(self.key)

    def source_column(self, column: str) -> str:
        """The file's name for our ``column`` (ours when not mapped)."""
        return dict(self.columns).get(column, column)

    def _where(self, suffix: str = "") -> str:
        place = f"[inputs.{self.key}{suffix}]"
        return f"{place} of {self.config_path}" if self.config_path else place

    def find_file(self, data_dir: Path) -> Path:
        """The file to read: the configured one, else the usual name in ``data_dir``."""
        if self.file is None:
            return find_input_file(data_dir, self.table)
        path = data_dir / self.file
        if not path.is_file():
            raise InputDataError(
                f"{path}: no such file. file = {self.file!r} in {self._where()} is read from the "
                f"data folder {data_dir}; fix the name or the data folder."
            )
        return path

    def select_list(
        self, found: Sequence[tuple[str, str]], path: Path, *, keep_types: bool = False
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """SELECT expressions producing our columns from the file's, and ignored columns.

        Parameters
        ----------
        found
            The file's (column name, DuckDB type) pairs.
        path
            The file, for messages.
        keep_types
            Keep typed (Parquet) columns as they are (``raw_load.kept_type``); otherwise, and
            for text dates in a configured format, the values become text.

        Raises
        ------
        InputDataError
            A column the mapping needs is not in the file; the message names it and its key.
        """
        table = self.table
        by_normalized: dict[str, tuple[str, str]] = {}
        for name, type_name in found:
            by_normalized.setdefault(_normalize(name), (name, type_name))
        mapped = dict(self.columns)
        missing = [
            f"{mapped[c]!r} (for {c}, set in {self._where('.columns')})" if c in mapped else c
            for c in table.columns
            if _normalize(self.source_column(c)) not in by_normalized
        ]
        if missing:
            raise InputDataError(
                f"{path}: missing column(s) {', '.join(missing)}. Found header: "
                f"{', '.join(name for name, _ in found)}. Map each of our columns whose name "
                f'differs under [inputs.{self.key}.columns] as our_name = "your name" (ours: '
                f"{', '.join(table.columns)}; case and surrounding spaces do not matter)."
            )
        expressions = []
        for column in table.columns:
            name, type_name = by_normalized[_normalize(self.source_column(column))]
            source = quote_identifier(name)
            is_date_column = column in table.date_columns
            kept = kept_type(source, type_name, is_date_column=is_date_column)
            if keep_types and kept is not None:
                expression = kept
            elif is_date_column:
                expression = self._date_expression(source, type_name)
            else:
                expression = f"cast({source} as varchar)"
            expressions.append(f"{expression} as {quote_identifier(column)}")
        used = {_normalize(self.source_column(column)) for column in table.columns}
        ignored = tuple(name for name, _ in found if _normalize(name) not in used)
        return tuple(expressions), ignored

    def _date_expression(self, source: str, type_name: str) -> str:
        canonical = quote_literal(CANONICAL_DATE_FORMAT)
        if type_name.upper().startswith(("DATE", "TIMESTAMP")):
            return f"strftime({source}, {canonical})"
        if self.date_format == DEFAULT_DATE_FORMAT:
            return f"cast({source} as varchar)"
        # A value that does not match keeps its text behind a prefix that no date parser
        # accepts: staging's not_null test then fails instead of the day becoming null
        # silently, and the original text is not reread as M/D/YYYY (12/11/2019 written
        # %d/%m/%Y must never become December 11).
        text = f"trim(cast({source} as varchar))"
        fmt = quote_literal(self.date_format)
        marker = quote_literal(f"{UNPARSED_DATE_PREFIX}{self.date_format}: ")
        return f"coalesce(strftime(try_strptime({text}, {fmt}), {canonical}), {marker} || {text})"


@dataclass(frozen=True)
class CustsegConfig:
    """A parsed ``custseg.toml``. Read it with :func:`load_config`; unset values are None."""

    # The file it was read from; relative paths in it are taken from its folder.
    path: Path
    # Folder holding the five inputs (absolute); None = give --data-dir.
    data_dir: Path | None = None
    # As-of date written YYYY-MM-DD; None = the day after the last transaction.
    as_of_date: str | None = None
    # Number of segments (2-5) or "auto"; None = the command's default (5).
    k: int | str | None = None
    # Seed for sampling and k-means++ restarts; None = the command's default (42).
    random_state: int | None = None
    # dbt target: duckdb, postgres or spark; None = duckdb (or env CUSTSEG_TARGET).
    target: str | None = None
    # DuckDB warehouse file (absolute); None = dbt_pipeline/custseg.duckdb.
    duckdb_path: Path | None = None
    # One spec per configured input; inputs not listed keep the usual names and formats.
    inputs: tuple[InputSpec, ...] = ()

    def run_settings(self) -> dict[str, Any]:
        """The [run] values that are set, keyed by ``resolve_run_config`` keyword."""
        values = {
            "data_dir": self.data_dir,
            "as_of_date": self.as_of_date,
            "n_segments": None if self.k == "auto" else self.k,
            "random_state": self.random_state,
            "target": self.target,
            "duckdb_path": self.duckdb_path,
        }
        is_set = {"n_segments": self.k is not None}
        return {
            keyword: value
            for keyword, value in values.items()
            if is_set.get(keyword, value is not None)
        }


def load_config(path: Path) -> CustsegConfig:
    """Read and validate a ``custseg.toml``.

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or a key or value is not one custseg accepts; the
        message names the key and what to write instead.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be read ({exc}).") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from exc
    return parse_config(document, path)


def parse_config(document: Mapping[str, Any], path: Path) -> CustsegConfig:
    """Validate a parsed TOML document; relative paths are taken from ``path``'s folder."""
    path = path.resolve()
    _check_keys(document, ("run", "inputs"), f"{path}", "top-level table")
    run = _table(document, "run", f"{path}")
    _check_keys(run, tuple(RUN_KEYS), f"[run] of {path}", "key")
    inputs = _table(document, "inputs", f"{path}")
    _check_keys(inputs, tuple(INPUT_KEYS), f"[inputs] of {path}", "input")
    return CustsegConfig(
        path=path,
        data_dir=_path_value(run, "data_dir", path),
        as_of_date=_as_of_date(run, path),
        k=_k_value(run, path),
        random_state=_random_state(run, path),
        target=_target(run, path),
        duckdb_path=_path_value(run, "duckdb_path", path),
        inputs=tuple(_input_spec(key, inputs[key], path) for key in INPUT_KEYS if key in inputs),
    )


def merge_settings(
    config_path: Path | None,
    options: Mapping[str, Any],
    given: Collection[str],
    *,
    data_dir_required: bool,
) -> dict[str, Any]:
    """Keyword arguments for ``resolve_run_config`` from the CLI options and a config file.

    An option given on the command line (or by its environment variable) wins over the file;
    the file wins over the option's default.

    Parameters
    ----------
    config_path
        The ``--config`` file, or None.
    options
        The command's option values by parameter name; only the names in ``RUN_KEYS``' values
        are used, and only those the command has are returned (plus ``inputs``).
    given
        Names of the options given explicitly (not defaulted).
    data_dir_required
        Raise when neither the option nor the file gives the data folder.

    Raises
    ------
    ConfigError
        The file is invalid, its data folder does not exist, or no data folder is given while
        one is required.
    """
    config = load_config(config_path) if config_path is not None else None
    from_file = config.run_settings() if config else {}
    settings: dict[str, Any] = {}
    taken_from_file: set[str] = set()
    for keyword, value in options.items():
        if keyword not in RUN_KEYS.values():
            continue
        if keyword in from_file and keyword not in given:
            settings[keyword] = from_file[keyword]
            taken_from_file.add(keyword)
        else:
            settings[keyword] = value
    data_dir = settings.get("data_dir")
    if config and "data_dir" in taken_from_file and not data_dir.is_dir():
        raise ConfigError(
            f"data_dir in [run] of {config.path}: no such folder {data_dir} (a relative path is "
            "taken from the config file's folder)."
        )
    if data_dir is None and data_dir_required:
        raise ConfigError(
            "No data folder: pass --data-dir DIR, or set data_dir in the [run] table of a "
            "--config file."
        )
    settings["inputs"] = config.inputs if config and config.inputs else None
    return settings


def _check_keys(table: Mapping[str, Any], valid: Sequence[str], where: str, what: str) -> None:
    unknown = [key for key in table if key not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown {what} {', '.join(repr(key) for key in unknown)}; "
            f"valid: {', '.join(valid)}."
        )


def _table(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key} must be a table ([{key}]), not {value!r}.")
    return value


def _string(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} in {where} must be a non-empty string in quotes, not {value!r}.")
    return value


def _path_value(run: Mapping[str, Any], key: str, path: Path) -> Path | None:
    value = _string(run, key, f"[run] of {path}")
    if value is None:
        return None
    return (path.parent / Path(value).expanduser()).resolve()


def _as_of_date(run: Mapping[str, Any], path: Path) -> str | None:
    value = run.get("as_of_date")
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ConfigError(
        f"as_of_date in [run] of {path}: {value!r} is not a date; write as_of_date = "
        '"2020-01-01" (YYYY-MM-DD).'
    )


def _k_value(run: Mapping[str, Any], path: Path) -> int | str | None:
    value = run.get("k")
    if value is None or value == "auto":
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 2 <= value <= 5:
        return value
    raise ConfigError(
        f"k in [run] of {path}: {value!r}; write a whole number from 2 to 5 (the naming rules "
        'define 5 segments) or k = "auto".'
    )


def _random_state(run: Mapping[str, Any], path: Path) -> int | None:
    value = run.get("random_state")
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ConfigError(f"random_state in [run] of {path}: {value!r}; write a whole number >= 0.")


def _target(run: Mapping[str, Any], path: Path) -> str | None:
    value = run.get("target")
    if value is None or value in TARGETS:
        return value
    raise ConfigError(f"target in [run] of {path}: {value!r}; choose one of {', '.join(TARGETS)}.")


def _input_spec(key: str, table: Any, path: Path) -> InputSpec:
    where = f"[inputs.{key}] of {path}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"inputs.{key} in {path} must be a table ([inputs.{key}]).")
    _check_keys(table, INPUT_OPTIONS, where, "key")
    raw = _raw_table(key)
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
        check_date_format(date_format, f"date_format in {where}")
    return InputSpec(
        key=key,
        file=file,
        columns=_columns(key, table.get("columns", {}), raw, path),
        date_format=date_format or DEFAULT_DATE_FORMAT,
        config_path=path,
    )


def _check_file_name(file: str, where: str) -> None:
    if not file.lower().endswith(SUPPORTED_SUFFIXES):
        raise ConfigError(
            f"file in {where}: {file!r} must end in {' or '.join(SUPPORTED_SUFFIXES)} (a "
            "comma-separated CSV with a header, or Parquet)."
        )
    if _GLOB_CHARACTERS & set(file):
        raise ConfigError(
            f"file in {where}: {file!r} contains * ? or [, which would be read as a pattern; "
            "rename the file."
        )


def _columns(key: str, columns: Any, raw: RawTable, path: Path) -> tuple[tuple[str, str], ...]:
    where = f"[inputs.{key}.columns] of {path}"
    if not isinstance(columns, Mapping):
        raise ConfigError(
            f'inputs.{key}.columns in {path} must be a table of our_name = "your name".'
        )
    pairs: dict[str, str] = {}
    for ours, theirs in columns.items():
        column = _normalize(ours)
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
        readers.setdefault(_normalize(pairs.get(column, column)), []).append(column)
    clashes = {source: names for source, names in readers.items() if len(names) > 1}
    if clashes:
        source, names = next(iter(clashes.items()))
        raise ConfigError(
            f"{where}: {' and '.join(names)} would both read your column {source!r}; map each "
            "of our columns to a different column of yours."
        )
    return tuple((column, pairs[column]) for column in raw.columns if column in pairs)


def check_date_format(date_format: str, where: str) -> None:
    """Check a strftime format with DuckDB: it must read back year, month and day.

    Raises
    ------
    ConfigError
        The format has a time zone, is not one DuckDB understands, or loses part of the date.
    """
    if _TIME_ZONE_DIRECTIVES.search(date_format):
        raise ConfigError(
            f"{where}: {date_format!r} has a time zone (%z or %Z); the calendar day would then "
            "depend on the session's time zone. Export local dates or times without the zone."
        )
    fmt = quote_literal(date_format)
    with duckdb.connect() as con:
        for day in _PROBE_DATES:
            try:
                (parsed,) = con.execute(
                    f"select cast(try_strptime(strftime(date '{day.isoformat()}', {fmt}), "
                    f"{fmt}) as date)"
                ).fetchone()
            except duckdb.Error as exc:
                raise ConfigError(
                    f"{where}: {date_format!r} is not a date format DuckDB understands "
                    f"({str(exc).strip().splitlines()[0]}). Write it with strftime codes, e.g. "
                    "'%Y-%m-%d' for 2019-11-23 or '%d.%m.%Y' for 23.11.2019."
                ) from exc
            if parsed != day:
                written = f"{day:%Y-%m-%d}"
                raise ConfigError(
                    f"{where}: {date_format!r} does not hold a whole date ({written} written "
                    f"with it reads back as {parsed}); it needs the year (%Y), the month (%m or "
                    "%b) and the day (%d)."
                )
