"""DuckDB, the embedded default: one file; the raw tables are swapped in one transaction."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from custseg.errors import ConfigError, LockError, storage_error_in
from custseg.ingest.layout import RAW_SCHEMA, RAW_TABLES, LoadedTable, RawTable
from custseg.ingest.staging import CheckedInput
from custseg.settings import Settings
from custseg.sql import quote_identifier, quote_literal
from custseg.warehouses.base import Staging, Warehouse, storage_faults

#: Suffix of a raw table's staged copy, beside it in the ``raw`` schema.
STAGED_SUFFIX = "__custseg_staged"


class DuckDBWarehouse(Warehouse):
    """A DuckDB database file; dbt builds models in its ``main`` schema."""

    target = "duckdb"
    lock_alternative = ", or point this run at another file with --duckdb-path"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # The connection of a block of reads (see reads); None outside one.
        self._reading: duckdb.DuckDBPyConnection | None = None

    @property
    def path(self) -> Path:
        """The database file."""
        assert self.settings.duckdb_path is not None, "settings are resolved"
        return self.settings.duckdb_path

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        """Stage in the warehouse file itself, beside the raw tables: the checked tables then
        become the raw tables by a rename (no second copy of 50 million lines), and Parquet
        columns keep their types. Staged tables left by a failure are dropped."""
        with connect_file(self.path) as con:
            con.execute(f"create schema if not exists {quote_identifier(RAW_SCHEMA)}")
            try:
                yield Staging(con, _staged_relation, keep_types=True)
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    for table in RAW_TABLES:
                        con.execute(f"drop table if exists {_staged_relation(table)}")
                raise

    def replace_raw_tables(
        self, staged: duckdb.DuckDBPyConnection, checked: Sequence[CheckedInput]
    ) -> list[LoadedTable]:
        """Swap every staged table in for its raw table, in one transaction (renames only)."""
        staged.execute("begin transaction")
        try:
            for item in checked:
                target = _raw_relation(item.table)
                staged.execute(f"drop table if exists {target}")
                staged.execute(
                    f"alter table {item.relation} rename to "
                    f"{quote_identifier(item.table.table_name)}"
                )
            staged.execute("commit")
        except BaseException:
            staged.execute("rollback")
            raise
        return [item.loaded for item in checked]

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        with storage_faults(), self._read_connection() as con:
            return con.execute(sql).fetchall()

    @contextlib.contextmanager
    def reads(self) -> Iterator[None]:
        """The block's reads share one connection: a report's dozen reads would each open and
        close the file (about 15 ms each). Outside a block every read opens its own, because
        dbt opens the same file between them, with settings of its own that DuckDB refuses
        to mix with a connection left open in the process."""
        if self._reading is not None:
            yield
            return
        with storage_faults():
            connection = connect_file(self.path)
        self._reading = connection
        try:
            yield
        finally:
            self._reading = None
            connection.close()

    @contextlib.contextmanager
    def _read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The block's connection inside :meth:`reads`, else a short-lived one."""
        if self._reading is not None:
            yield self._reading
            return
        with connect_file(self.path) as con:
            yield con

    def execute(self, *statements: str) -> None:
        with storage_faults(), connect_file(self.path) as con:
            con.execute("begin transaction")
            for statement in statements:
                con.execute(statement)
            con.execute("commit")

    def table_exists(self, name: str) -> bool:
        rows = self.fetch(
            "select count(*) from information_schema.tables where table_schema = 'main' "
            f"and table_name = {quote_literal(name)} and table_type = 'BASE TABLE'"
        )
        return bool(rows[0][0])

    def existing_tables(self, names: Sequence[str]) -> set[str]:
        # One connection and one query: opening the file costs more than the question.
        if not names:
            return set()
        listed = ", ".join(quote_literal(name) for name in names)
        rows = self.fetch(
            "select table_name from information_schema.tables where table_schema = 'main' "
            f"and table_type = 'BASE TABLE' and table_name in ({listed})"
        )
        return {name for (name,) in rows}

    def fetch_columns(self, sql: str, names: Sequence[str]) -> dict[str, np.ndarray]:
        # DuckDB hands out columns as arrays: a million rows in a tenth of a second, against
        # seconds for Python tuples.
        with storage_faults(), self._read_connection() as con:
            columns = con.execute(sql).fetchnumpy()
        return {name: np.asarray(columns[name]) for name in names}

    def relation(self, name: str) -> str:
        return name

    def describe(self) -> str:
        return f"DuckDB file {self.path}"

    def dbt_env(self) -> dict[str, str]:
        return {**super().dbt_env(), "CUSTSEG_DUCKDB_PATH": str(self.path)}


#: How DuckDB names the process holding a database file open.
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def connect_file(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the database file read-write; say plainly why it cannot be.

    Raises
    ------
    LockError
        Another process (a DuckDB CLI, DBeaver, a notebook) has the file open.
    ConfigError
        The file is not a DuckDB database, or its folder does not exist.
    StorageError
        The file or its folder cannot be written (permission denied, read-only, disk full).
    """
    try:
        return duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise file_error(path, exc) from exc


def file_error(path: Path, exc: BaseException) -> Exception:
    """The custseg error for DuckDB's complaint ``exc`` about the file ``path``, or ``exc``."""
    text = str(exc)
    holder = _HOLDER.search(text)
    if "Could not set lock on file" in text:
        who = f"pid {holder['pid']}, {holder['program']}" if holder else "another process"
        return LockError(
            f"{path}: another process has this DuckDB file open ({who}): a DuckDB CLI, DBeaver "
            "or notebook session, or another program. Close that session (or its connection to "
            "the file) and run again, or point this run at another file with --duckdb-path. "
            "Nothing was loaded or published."
        )
    if "not a valid DuckDB database file" in text:
        return ConfigError(
            f"{path} exists but is not a DuckDB database file. Point --duckdb-path at a DuckDB "
            "file, or at a new path in an existing folder (custseg creates it)."
        )
    return storage_error_in(exc) or exc


def _raw_relation(table: RawTable) -> str:
    return f"{quote_identifier(RAW_SCHEMA)}.{quote_identifier(table.table_name)}"


def _staged_relation(table: RawTable) -> str:
    return f"{quote_identifier(RAW_SCHEMA)}.{quote_identifier(table.table_name + STAGED_SUFFIX)}"
