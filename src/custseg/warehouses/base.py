"""The interface every warehouse implements.

The dbt project is the same on every engine; a warehouse only knows where DuckDB stages the input
files for checking, how to replace its raw tables with the checked rows in its own bulk way, how
to read rows back for the ML step, and which environment dbt needs. Loading is the same on every
engine (:meth:`Warehouse.load_raw`): read and check the files with DuckDB first, then replace the
raw tables.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from custseg.errors import InputDataError, storage_error_in
from custseg.ingest.layout import LoadedTable, RawTable
from custseg.ingest.mapping import InputSpec
from custseg.ingest.staging import CheckedInput, read_and_check
from custseg.settings import Settings
from custseg.sql import quote_identifier, quote_literal


def as_date(value: object) -> dt.date:
    """A date column's value as a date: engines return dates, some clients datetimes or text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Staging:
    """Where DuckDB stages the input files before the raw tables are replaced."""

    connection: duckdb.DuckDBPyConnection
    # SQL name of the staged table of each raw table.
    relation_for: Callable[[RawTable], str]
    # Parquet columns keep their types (the raw tables are written from the staged ones as they
    # are); otherwise every value is staged as text, as a text export carries it.
    keep_types: bool


@contextlib.contextmanager
def storage_faults() -> Iterator[None]:
    """Turn a full disk or an unwritable file met by DuckDB into a StorageError naming the file
    (the input reader would blame the input file it was reading)."""
    try:
        yield
    except (duckdb.Error, InputDataError) as exc:
        storage = storage_error_in(exc)
        if storage is None:
            raise
        raise storage from exc


class Warehouse(abc.ABC):
    """One engine the dbt project runs on.

    A warehouse is opened per run and closed at the end (it is a context manager). Relations dbt
    built are read with :meth:`fetch` through :meth:`relation`, which qualifies a model or seed
    name the way this engine needs.
    """

    #: dbt target name in profiles.yml.
    target: str
    #: How else to avoid waiting for a run that holds the lock (ends the lock error message).
    lock_alternative: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ loading raw files

    def load_raw(
        self, data_dir: Path, inputs: Sequence[InputSpec] = (), *, strict_amounts: bool = False
    ) -> list[LoadedTable]:
        """Replace the raw tables with the files in ``data_dir``: checked first, then loaded.

        DuckDB reads every file into a staged table and the input rules run there
        (:func:`custseg.ingest.staging.read_and_check`); only then are the raw tables replaced,
        with this engine's bulk path. A file that fails leaves every raw table as it was.
        ``strict_amounts`` rejects sales lines worth nothing instead of skipping them.

        Returns
        -------
        list of LoadedTable
            One per raw table: rows loaded, columns ignored, repairs made.

        Raises
        ------
        InputDataError
            A file is missing, unreadable, lacks a column, has no rows or breaks a rule.
        StorageError
            The disk filled up (or a file became unwritable) while DuckDB staged or wrote.
        """
        with storage_faults(), self.staging() as staging:
            checked = read_and_check(
                staging.connection,
                data_dir,
                inputs,
                relation_for=staging.relation_for,
                keep_types=staging.keep_types,
                strict_amounts=strict_amounts,
            )
            return self.replace_raw_tables(staging.connection, checked)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        """An in-memory DuckDB, for engines loaded from an export of the checked tables."""
        with duckdb.connect() as con:
            # An in-memory database would spill large staged tables into the current folder.
            spill = Path(tempfile.gettempdir()) / "custseg-duckdb-spill"
            con.execute(f"set temp_directory = {quote_literal(str(spill))}")
            yield Staging(
                con,
                lambda table: quote_identifier(f"custseg_staged_{table.table_name}"),
                keep_types=False,
            )

    @abc.abstractmethod
    def replace_raw_tables(
        self, staged: duckdb.DuckDBPyConnection, checked: Sequence[CheckedInput]
    ) -> list[LoadedTable]:
        """Replace every raw table with the checked rows held in ``staged``; all or nothing
        where the engine has transactions."""

    # ------------------------------------------------------------------ reading and writing

    @abc.abstractmethod
    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query and return all rows."""

    def fetch_columns(self, sql: str, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Run a query selecting the columns ``names`` (in order); return each as an array.

        For large results (a million customers' features). This default builds object arrays
        from :meth:`fetch`; an engine with a columnar client returns its arrays directly.
        """
        rows = self.fetch(sql)
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return {
            name: np.array(values, dtype=object)
            for name, values in zip(names, columns, strict=True)
        }

    @contextlib.contextmanager
    def reads(self) -> Iterator[None]:
        """A block of reads (:meth:`fetch`, :meth:`fetch_columns`, :meth:`table_exists`) that
        share one connection on engines where opening one costs more than a small query
        (DuckDB: about 15 ms a file). No dbt invocation and no write inside the block. This
        default: each read opens its own, as outside a block."""
        yield

    @abc.abstractmethod
    def execute(self, *statements: str) -> None:
        """Run statements that return no rows, in one transaction where the engine has them."""

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table of model or seed ``name`` exists in the schema dbt builds in."""

    def existing_tables(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` are tables in the schema dbt builds in (as :meth:`table_exists`
        answers each); engines that can answer for all of them in one query do."""
        return {name for name in names if self.table_exists(name)}

    def copy_table(self, name: str, copy: str) -> None:
        """Replace table ``copy`` with a copy of table ``name`` (which stays as it is)."""
        self.execute(
            f"drop table if exists {self.relation(copy)}",
            f"create table {self.relation(copy)} as select * from {self.relation(name)}",
        )

    def replace_table(self, name: str, replacement: str) -> None:
        """Drop table ``name`` and give table ``replacement`` its name."""
        self.execute(*self.replace_table_statements(name, replacement))

    def replace_table_statements(self, name: str, replacement: str) -> list[str]:
        """The statements of :meth:`replace_table`, to run with others in one transaction."""
        return [
            f"drop table if exists {self.relation(name)}",
            f"alter table {self.relation(replacement)} rename to {self.rename_target(name)}",
        ]

    def drop_table(self, name: str) -> None:
        """Drop table ``name`` if it exists."""
        self.execute(f"drop table if exists {self.relation(name)}")

    def rename_target(self, name: str) -> str:
        """How ALTER TABLE ... RENAME TO names the new table (unqualified on most engines)."""
        return quote_identifier(name)

    @abc.abstractmethod
    def relation(self, name: str) -> str:
        """The SQL name of a model or seed dbt built (schema-qualified where needed)."""

    # ------------------------------------------------------------------ about the warehouse

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the data lives, for the run summary (never a secret)."""

    @property
    @abc.abstractmethod
    def lock_path(self) -> Path:
        """Lock file that keeps two custseg runs off this warehouse."""

    def explain_lock_wait(self, tables: Sequence[str]) -> str:
        """What holds ``tables`` (models or seeds dbt builds) and what to do, after a lock wait
        timed out; empty on engines where custseg sets no lock timeout."""
        return ""

    def dbt_env(self) -> dict[str, str]:
        """Environment variables dbt's profile needs for this warehouse."""
        return {"CUSTSEG_TARGET": self.target}

    def close(self) -> None:  # noqa: B027 - most warehouses hold nothing open between calls
        """Release connections."""
