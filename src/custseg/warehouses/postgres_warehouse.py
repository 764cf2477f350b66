"""PostgreSQL: a server reached with the standard libpq variables, loaded with COPY.

The files are read and checked by DuckDB exactly as for the DuckDB warehouse (same header rules,
same rules, same messages; text values), written to temporary CSV files and streamed into the
``raw`` schema with ``COPY ... FROM STDIN`` in one transaction, so a file that fails leaves the
previous raw tables. The password is never read here: libpq takes it from ``PGPASSWORD`` or
``~/.pgpass`` itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2 import sql

from custseg.errors import ConfigError, InputDataError, LockError, first_line, masked
from custseg.ingest.layout import LINE_COLUMN, RAW_SCHEMA, LoadedTable
from custseg.ingest.staging import CheckedInput, with_row_counts
from custseg.settings import SCHEMA_DEFAULT, SCHEMA_ENV, Settings
from custseg.sql import quote_identifier, quote_literal, require_plain_identifier
from custseg.warehouses.base import Warehouse
from custseg.warehouses.postgres_locks import (
    lock_holders,
    lock_wait_message,
    pgoptions,
)

DEFAULT_PORT = 5432
#: Seconds to wait for the server before giving up with a message.
CONNECT_TIMEOUT_SECONDS = 10
#: What psycopg2 raises when lock_timeout cancels a statement (SQLSTATE 55P03).
LOCK_TIMEOUT = pg_errors.LockNotAvailable

_REQUIRED = {
    "PGHOST": "the server's host name or address",
    "PGUSER": "the role to log in as",
    "PGDATABASE": "the database to build in",
}


@dataclass(frozen=True)
class PostgresSettings:
    """Where the warehouse is, from the environment; holds no secret."""

    # Host name, address or unix socket folder of the server (PGHOST).
    host: str
    # TCP port (PGPORT, default 5432).
    port: int
    # Role to log in as (PGUSER); its password comes from PGPASSWORD or ~/.pgpass via libpq.
    user: str
    # Database dbt builds in (PGDATABASE).
    database: str
    # Schema of dbt's models and seeds (CUSTSEG_SCHEMA, default custseg, as in profiles.yml);
    # the raw tables always go to the `raw` schema of the same database.
    schema: str = SCHEMA_DEFAULT

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PostgresSettings:
        """Read and check the libpq variables and ``CUSTSEG_SCHEMA``.

        Raises
        ------
        ConfigError
            A required variable is missing or empty, or PGPORT is not a port number.
        """
        missing = [name for name in _REQUIRED if not environ.get(name, "").strip()]
        if missing:
            needed = "; ".join(f"{name}: {_REQUIRED[name]}" for name in missing)
            raise ConfigError(
                f"--target postgres needs {', '.join(missing)} set ({needed}). Set the standard "
                "libpq variables PGHOST, PGPORT (default 5432), PGUSER, PGDATABASE, and the "
                "password in PGPASSWORD or ~/.pgpass, for example: "
                "export PGHOST=db.example.com PGUSER=analyst PGDATABASE=analytics"
            )
        database = environ["PGDATABASE"].strip()
        if "://" in database or "=" in database:
            # libpq reads PGDATABASE as a plain name: a URI there would be the database's name
            # (and the server would echo it, password included, in its error).
            raise ConfigError(
                masked(
                    f"PGDATABASE={database!r} is a connection string; libpq and dbt read "
                    "PGDATABASE as a plain database name. Set its parts apart: PGHOST, PGPORT, "
                    "PGUSER, PGDATABASE (the name only) and the password in PGPASSWORD or "
                    "~/.pgpass."
                )
            )
        port_text = environ.get("PGPORT", "").strip() or str(DEFAULT_PORT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PGPORT={port_text!r} is not a port number (1-65535, e.g. 5432).")
        schema = require_plain_identifier(
            environ.get(SCHEMA_ENV, "").strip() or SCHEMA_DEFAULT, SCHEMA_ENV
        )
        if schema == RAW_SCHEMA:
            raise ConfigError(
                f"{SCHEMA_ENV}={schema!r}: the raw files are loaded into the schema "
                f"'{RAW_SCHEMA}'; choose another schema for dbt's models."
            )
        return cls(
            host=environ["PGHOST"].strip(),
            port=int(port_text),
            user=environ["PGUSER"].strip(),
            database=database,
            schema=schema,
        )

    def describe(self) -> str:
        """``user@host:port/database, schema S`` (a password in a URI database is masked)."""
        return masked(f"{self.user}@{self.host}:{self.port}/{self.database}, schema {self.schema}")


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database; dbt builds models in ``CUSTSEG_SCHEMA``, raw tables in ``raw``."""

    target = "postgres"

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        #: Where the server is (from the environment; holds no secret).
        self.server = PostgresSettings.from_environ(os.environ if environ is None else environ)

    @property
    def lock_path(self) -> Path:
        # One lock per database: every schema of a database shares its `raw` tables.
        name = masked(f"{self.server.host}-{self.server.port}-{self.server.database}")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        return self.settings.dbt_project_dir / "target" / f"custseg-postgres-{safe}.lock"

    def describe(self) -> str:
        return f"PostgreSQL {self.server.describe()}"

    def dbt_env(self) -> dict[str, str]:
        # PG* are already in the environment dbt inherits; the schema is passed on, and the
        # lock timeout through libpq's PGOPTIONS (see custseg.warehouses.postgres_locks).
        return {
            **super().dbt_env(),
            SCHEMA_ENV: self.server.schema,
            "PGOPTIONS": pgoptions(self.settings.lock_timeout, os.environ),
        }

    def explain_lock_wait(self, tables: Sequence[str]) -> str:
        return self._lock_wait_message([f"{self.server.schema}.{table}" for table in tables])

    def relation(self, name: str) -> str:
        return f"{quote_identifier(self.server.schema)}.{quote_identifier(name)}"

    def execute(self, *statements: str) -> None:
        # One transaction: PostgreSQL's DDL is transactional, so a swap is all or nothing.
        with self._connection(autocommit=False) as con:
            with con.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            con.commit()

    def table_exists(self, name: str) -> bool:
        with self._connection(autocommit=True) as con, con.cursor() as cur:
            cur.execute(
                "select count(*) from information_schema.tables where table_schema = %s "
                "and table_name = %s and table_type = 'BASE TABLE'",
                (self.server.schema, name),
            )
            return bool(cur.fetchone()[0])

    def existing_tables(self, names: Sequence[str]) -> set[str]:
        # One connection for every name (each opens its own in table_exists).
        with self._connection(autocommit=True) as con, con.cursor() as cur:
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s "
                "and table_name = any(%s) and table_type = 'BASE TABLE'",
                (self.server.schema, list(names)),
            )
            return {name for (name,) in cur.fetchall()}

    def fetch(self, sql_text: str) -> list[tuple[Any, ...]]:
        # A short-lived autocommit connection: no transaction stays open (and no lock held on
        # what we read) while dbt rebuilds tables between our reads.
        with self._connection(autocommit=True) as con, con.cursor() as cur:
            cur.execute(sql_text)
            return [tuple(row) for row in cur.fetchall()]

    def replace_raw_tables(
        self, staged: duckdb.DuckDBPyConnection, checked: Sequence[CheckedInput]
    ) -> list[LoadedTable]:
        """Export the checked tables to CSV and COPY them into ``raw``, in one transaction."""
        with tempfile.TemporaryDirectory(prefix="custseg-raw-") as tmp:
            exports = [(item, _export_csv(staged, item, Path(tmp))) for item in checked]
            counts = self._copy_into_raw_tables(exports)
        return with_row_counts(checked, counts)

    def _copy_into_raw_tables(self, exports: Sequence[tuple[CheckedInput, Path]]) -> list[int]:
        counts: list[int] = []
        raw_tables = [f"{RAW_SCHEMA}.{item.table.table_name}" for item, _ in exports]
        with self._connection(autocommit=False, tables=raw_tables) as con:
            try:
                with con.cursor() as cur:
                    _execute(cur, sql.SQL("create schema if not exists {}"), RAW_SCHEMA)
                    for item, csv_path in exports:
                        counts.append(_replace_table(cur, item, csv_path))
                con.commit()
            except BaseException as exc:
                # On a lost connection the server has rolled back already; keep the first error.
                with contextlib.suppress(psycopg2.Error):
                    con.rollback()
                # A lock wait that timed out is explained by _connection.
                if isinstance(exc, psycopg2.Error) and not isinstance(exc, LOCK_TIMEOUT):
                    raise ConfigError(
                        f"PostgreSQL {self.server.describe()} refused to replace the raw tables "
                        f"({_server_message(exc)}); they are unchanged. The role needs the CREATE "
                        f"privilege on the database (for schema '{RAW_SCHEMA}') and ownership of "
                        "the raw tables."
                    ) from exc
                raise
        return counts

    @contextlib.contextmanager
    def _connection(self, *, autocommit: bool, tables: Sequence[str] = ()) -> Iterator[Any]:
        """A connection whose lock waits are bounded by the lock_timeout setting; a wait that
        times out becomes a LockError naming who holds ``tables`` (any of ours when empty)."""
        server = self.server
        try:
            con = psycopg2.connect(
                host=server.host,
                port=server.port,
                user=server.user,
                dbname=server.database,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="custseg",
                client_encoding="UTF8",
                # Overrides PGOPTIONS for this connection: keep the user's options in it.
                options=pgoptions(self.settings.lock_timeout, os.environ),
            )
        except psycopg2.Error as exc:
            raise ConfigError(
                masked(
                    f"Cannot connect to PostgreSQL at {server.host}:{server.port} as "
                    f"{server.user}, database {server.database}: {_server_message(exc)}. Check "
                    "PGHOST, PGPORT, PGUSER, PGDATABASE and the password (PGPASSWORD or "
                    "~/.pgpass), and that the server is running and accepts connections from "
                    "this machine."
                )
            ) from exc
        try:
            con.autocommit = autocommit
            yield con
        except LOCK_TIMEOUT as exc:
            con.close()
            raise LockError(self._lock_wait_message(tables)) from exc
        finally:
            con.close()

    def _lock_wait_message(self, tables: Sequence[str]) -> str:
        try:
            with self._connection(autocommit=True) as con, con.cursor() as cur:
                holders = lock_holders(cur, (self.server.schema, RAW_SCHEMA), tables)
        except (psycopg2.Error, ConfigError):
            holders = []
        return lock_wait_message(
            self.server.describe(), self.settings.lock_timeout, holders, tables
        )


def _server_message(exc: BaseException) -> str:
    """The server's (or libpq's) message on one line; it never contains the password."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _export_csv(duck: duckdb.DuckDBPyConnection, item: CheckedInput, folder: Path) -> Path:
    """Write a checked table's text columns to a header-less CSV that PostgreSQL's COPY reads.

    DuckDB writes a null as an empty field and an empty string as ``""``, which is exactly how
    COPY's csv format tells them apart.
    """
    path = folder / f"{item.table.table_name}.csv"
    try:
        duck.execute(
            f"copy (select * from {item.relation}) to {quote_literal(str(path))} (header false)"
        )
    except duckdb.Error as exc:
        raise InputDataError(
            f"{item.plan.source_path}: cannot be loaded ({first_line(exc)})."
        ) from exc
    return path


def _columns(item: CheckedInput) -> list[tuple[str, str]]:
    """The raw table's columns and PostgreSQL types, in the order the export writes them."""
    columns = [(name, "text") for name in item.table.columns]
    if item.table.keep_line_numbers:
        columns.insert(0, (LINE_COLUMN, "bigint"))
    return columns


def _execute(cur: Any, statement: sql.Composable, *identifiers: str | tuple[str, ...]) -> None:
    names = [
        sql.Identifier(*name) if isinstance(name, tuple) else sql.Identifier(name)
        for name in identifiers
    ]
    cur.execute(statement.format(*names))


def _replace_table(cur: Any, item: CheckedInput, csv_path: Path) -> int:
    """Empty (or create) one raw table and COPY the exported file into it; count its rows.

    A table that already has the expected columns (or the first of them) is truncated rather than
    dropped (its missing last columns added): dbt's
    staging views depend on the raw tables and PostgreSQL refuses to drop a table a view uses.
    Truncation is transactional, so a rollback restores the previous rows.
    """
    table = (RAW_SCHEMA, item.table.table_name)
    columns = _columns(item)
    cur.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        table,
    )
    existing = [(str(name), str(data_type)) for name, data_type in cur.fetchall()]
    try:
        if existing and existing == columns[: len(existing)]:
            # A table from an older custseg lacks only the last columns (online_sales' amount):
            # added in place, as dropping it would take dbt's staging views with it.
            for name, data_type in columns[len(existing) :]:
                cur.execute(
                    sql.SQL("alter table {} add column {} {}").format(
                        sql.Identifier(*table), sql.Identifier(name), sql.SQL(data_type)
                    )
                )
            _execute(cur, sql.SQL("truncate table {}"), table)
        else:
            _execute(cur, sql.SQL("drop table if exists {}"), table)
            column_list = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(data_type))
                for name, data_type in columns
            )
            cur.execute(sql.SQL("create table {} ({})").format(sql.Identifier(*table), column_list))
    except pg_errors.DependentObjectsStillExist as exc:
        raise ConfigError(
            f"raw.{item.table.table_name} has other columns than custseg loads and cannot be "
            f"replaced: {_server_message(exc)}. Drop the dependent views (dbt recreates its "
            "own on the next run) and run again."
        ) from exc
    column_names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    copy = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        sql.Identifier(*table), column_names
    )
    try:
        with open(csv_path, encoding="utf-8", newline="") as handle:
            cur.copy_expert(copy, handle)
    except psycopg2.Error as exc:
        raise InputDataError(
            f"{item.plan.source_path}: cannot be loaded into PostgreSQL ({_server_message(exc)})."
        ) from exc
    _execute(cur, sql.SQL("analyze {}"), table)
    _execute(cur, sql.SQL("select count(*) from {}"), table)
    (row_count,) = cur.fetchone()
    return int(row_count)
