"""The input files a DuckDB warehouse reads in place, kept in a folder beside its database file.

A Parquet sales file is not copied into the database (see :mod:`custseg.ingest.in_place`): the
warehouse keeps a byte-for-byte copy of it in ``<database file>.inputs/``, and its raw table
``raw.online_sales`` is a view over that copy. The database file and that folder go together:
move or back them up as a pair.

Every load makes a new copy under a name of its own (``online_sales.<token>.parquet``), and the
table of the lines its repairs removed carries the same token; the raw view names both. The raw
tables are swapped in one transaction, so the database always names the copies of one load.
Files and tables whose token no raw view names any more are the previous load's, or those of a
load that failed or was killed: they are removed at the start and at the end of every load.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path

import duckdb

from custseg.errors import StorageError, storage_error
from custseg.ingest.files import RawFilePlan
from custseg.ingest.in_place import InPlaceFile
from custseg.ingest.layout import RAW_SCHEMA
from custseg.publish.atomic import fsync_directory
from custseg.sql import quote_identifier, quote_literal

#: Suffix of the folder beside the database file.
FOLDER_SUFFIX = ".inputs"
#: Infix of the name of a removed-lines table, before its token.
_REMOVED_LINES = "__removed_lines__"
_USED_TOKEN = re.compile(rf"{_REMOVED_LINES}([0-9a-f]{{16}})")
_KEPT_FILE = re.compile(r"(?P<table>[a-z_]+)\.(?P<token>[0-9a-f]{16})\.parquet")
_REMOVED_TABLE = re.compile(rf"[a-z_]+{_REMOVED_LINES}(?P<token>[0-9a-f]{{16}})")


class KeptInputs:
    """The copies of the input files one DuckDB database file reads in place."""

    def __init__(self, database: Path) -> None:
        self.folder = database.resolve().with_name(database.name + FOLDER_SUFFIX)

    def keep(self, plan: RawFilePlan) -> InPlaceFile:
        """Copy ``plan``'s file into the folder, synced to disk, under a new token.

        Raises
        ------
        StorageError
            The copy cannot be written (disk full, folder not writable).
        """
        assert plan.source_path is not None, "only a given file is kept"
        token = secrets.token_hex(8)
        name = plan.table.table_name
        copy = self.folder / f"{name}.{token}.parquet"
        kept = InPlaceFile(
            copy,
            f"{quote_identifier(RAW_SCHEMA)}.{quote_identifier(name + _REMOVED_LINES + token)}",
        )
        try:
            self.folder.mkdir(exist_ok=True)
            shutil.copyfile(plan.source_path, copy)
            with copy.open("rb") as handle:
                os.fsync(handle.fileno())
            fsync_directory(self.folder)
        except OSError as exc:
            fault = storage_error(exc, copy)
            if fault is None:
                raise
            raise StorageError(
                f"{fault} (custseg keeps a copy of {plan.source_path} there, beside the DuckDB "
                "file, and reads it in place.) Nothing was loaded."
            ) from exc
        return kept

    def discard_unused(self, con: duckdb.DuckDBPyConnection) -> None:
        """Remove every copy and removed-lines table no view of the raw schema names: those of
        the load before the last one, and those of a load that failed or was killed.

        Run outside a transaction: what a committed raw view names stays, whenever this runs.
        """
        views = con.execute(
            "select sql from duckdb_views() where schema_name = "
            f"{quote_literal(RAW_SCHEMA)} and not internal"
        ).fetchall()
        used = {token for (sql,) in views for token in _USED_TOKEN.findall(sql or "")}
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = "
            f"{quote_literal(RAW_SCHEMA)}"
        ).fetchall()
        for (table,) in tables:
            match = _REMOVED_TABLE.fullmatch(table)
            if match and match["token"] not in used:
                con.execute(f"drop table {quote_identifier(RAW_SCHEMA)}.{quote_identifier(table)}")
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            match = _KEPT_FILE.fullmatch(path.name)
            if match and match["token"] not in used:
                with contextlib.suppress(OSError):  # tried again at the next load
                    path.unlink()
