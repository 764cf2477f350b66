"""Snowflake: an account reached with snowflake-connector-python, loaded with PUT + COPY INTO.

The files are read and checked by DuckDB exactly as for the other engines (text values), written
to temporary Parquet files, uploaded with ``PUT`` to a temporary stage of this session and
copied into the ``RAW`` schema with ``COPY INTO``: the deletes and copies of all five tables run
in one transaction, so a failed copy leaves the previous raw tables. Parquet rather than CSV: it
keeps a null apart from an empty string, and its columns are matched by name.

Connection settings come from the variables the ``snowflake`` output of ``profiles.yml`` reads
(:class:`SnowflakeSettings`), so custseg and dbt log in as the same user. The password is read
from the environment when connecting and kept nowhere else.

Names: dbt-snowflake writes its relations unquoted, which Snowflake stores in upper case; custseg
writes them quoted in upper case (``"CUSTSEG"."CUSTOMER_FEATURES"``), the same objects.

Transactions: Snowflake commits before and after every DDL statement (CREATE, DROP, ALTER), so
:meth:`SnowflakeWarehouse.execute` is one transaction only for DML. The table swaps of a
publication are DROP + ALTER ... RENAME; the publication journal (custseg.publish.journal)
repairs a swap cut in the middle, as it does on Spark.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import snowflake.connector
from snowflake.connector.errors import Error as SnowflakeError

from custseg.errors import ConfigError, InputDataError, first_line
from custseg.ingest.layout import LINE_COLUMN, RAW_SCHEMA, LoadedTable
from custseg.ingest.staging import CheckedInput, with_row_counts
from custseg.settings import SCHEMA_DEFAULT, SCHEMA_ENV, Settings
from custseg.sql import quote_identifier, quote_literal, require_plain_identifier
from custseg.warehouses.base import Warehouse

#: Seconds to wait for the account before giving up with a message.
LOGIN_TIMEOUT_SECONDS = 30
#: The temporary stage (in RAW) the raw files are uploaded to; it ends with the session.
LOAD_STAGE = "CUSTSEG_RAW_LOAD"
#: How COPY INTO reads the exported files: Parquet columns matched to the table's by name.
COPY_OPTIONS = "file_format = (type = parquet) match_by_column_name = case_insensitive force = true"

_REQUIRED = {
    "SNOWFLAKE_ACCOUNT": "the account identifier (orgname-accountname)",
    "SNOWFLAKE_USER": "the user to log in as",
    "SNOWFLAKE_WAREHOUSE": "the virtual warehouse that runs the queries",
    "SNOWFLAKE_DATABASE": "the database to build in",
}


@dataclass(frozen=True)
class SnowflakeSettings:
    """Where the account is, from the environment; holds no secret."""

    # Account identifier (SNOWFLAKE_ACCOUNT), e.g. myorg-myaccount; `fakesnow` for the emulator.
    account: str
    # User to log in as (SNOWFLAKE_USER).
    user: str
    # Virtual warehouse (SNOWFLAKE_WAREHOUSE).
    warehouse: str
    # Database dbt builds in (SNOWFLAKE_DATABASE); the raw tables go to its schema RAW.
    database: str
    # Schema of dbt's models and seeds (CUSTSEG_SCHEMA, default custseg, as in profiles.yml).
    schema: str = SCHEMA_DEFAULT
    # Role (SNOWFLAKE_ROLE); empty means the user's default role.
    role: str = ""
    # Unencrypted PKCS#8 key file for key-pair authentication (SNOWFLAKE_PRIVATE_KEY_PATH);
    # empty means password authentication with SNOWFLAKE_PASSWORD, read only when connecting.
    private_key_path: str = ""
    # Host, port and protocol (SNOWFLAKE_HOST, SNOWFLAKE_PORT, SNOWFLAKE_PROTOCOL): only for an
    # emulator or a proxy. Empty: the connector's own, <account>.snowflakecomputing.com:443 https.
    host: str = ""
    port: int | None = None
    protocol: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SnowflakeSettings:
        """Read and check the ``SNOWFLAKE_*`` variables and ``CUSTSEG_SCHEMA``.

        Raises
        ------
        ConfigError
            A required variable is missing, neither a password nor a key file is given,
            SNOWFLAKE_PORT is not a port number or the schema is not a plain name.
        """
        value = {name: environ.get(name, "").strip() for name in _ENV_NAMES}
        missing = [name for name in _REQUIRED if not value[name]]
        if missing:
            needed = "; ".join(f"{name}: {_REQUIRED[name]}" for name in missing)
            raise ConfigError(
                f"--target snowflake needs {', '.join(missing)} set ({needed}), and "
                "SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH; SNOWFLAKE_ROLE is optional. "
                "For example: export SNOWFLAKE_ACCOUNT=myorg-myaccount SNOWFLAKE_USER=analyst "
                "SNOWFLAKE_WAREHOUSE=transforming SNOWFLAKE_DATABASE=analytics"
            )
        if not value["SNOWFLAKE_PRIVATE_KEY_PATH"] and not environ.get("SNOWFLAKE_PASSWORD"):
            raise ConfigError(
                "--target snowflake needs SNOWFLAKE_PRIVATE_KEY_PATH (an unencrypted PKCS#8 key "
                "file, for key-pair authentication) or SNOWFLAKE_PASSWORD set."
            )
        port_text = value["SNOWFLAKE_PORT"]
        if port_text and (not port_text.isdigit() or not 0 < int(port_text) < 65536):
            raise ConfigError(
                f"SNOWFLAKE_PORT={port_text!r} is not a port number (1-65535, e.g. 443)."
            )
        schema = require_plain_identifier(value[SCHEMA_ENV] or SCHEMA_DEFAULT, SCHEMA_ENV)
        if schema.upper() == RAW_SCHEMA.upper():
            raise ConfigError(
                f"{SCHEMA_ENV}={schema!r}: the raw files are loaded into the schema "
                f"'{RAW_SCHEMA.upper()}'; choose another schema for dbt's models."
            )
        return cls(
            account=value["SNOWFLAKE_ACCOUNT"],
            user=value["SNOWFLAKE_USER"],
            warehouse=value["SNOWFLAKE_WAREHOUSE"],
            database=value["SNOWFLAKE_DATABASE"],
            schema=schema,
            role=value["SNOWFLAKE_ROLE"],
            private_key_path=value["SNOWFLAKE_PRIVATE_KEY_PATH"],
            host=value["SNOWFLAKE_HOST"],
            port=int(port_text) if port_text else None,
            protocol=value["SNOWFLAKE_PROTOCOL"],
        )

    def describe(self) -> str:
        """``user@account[ via host:port], database D, schema S``."""
        via = f" via {self.host}:{self.port or 443}" if self.host else ""
        return (
            f"{self.user}@{self.account}{via}, database {self.database}, "
            f"schema {self.schema.upper()}"
        )

    def connect_args(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments of ``snowflake.connector.connect``; the password, if any, comes
        from ``environ`` here and is returned to the caller only."""
        args: dict[str, Any] = {
            "account": self.account,
            "user": self.user,
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": self.schema,
            "login_timeout": LOGIN_TIMEOUT_SECONDS,
            "application": "custseg",
        }
        if self.role:
            args["role"] = self.role
        if self.private_key_path:
            args["private_key_file"] = self.private_key_path
        else:
            args["password"] = environ.get("SNOWFLAKE_PASSWORD", "")
        if self.host:
            args["host"] = self.host
        if self.port:
            args["port"] = self.port
        if self.protocol:
            args["protocol"] = self.protocol
        return args


_ENV_NAMES = (*_REQUIRED, SCHEMA_ENV, "SNOWFLAKE_ROLE", "SNOWFLAKE_PRIVATE_KEY_PATH")
_ENV_NAMES += ("SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL")


class SnowflakeWarehouse(Warehouse):
    """A Snowflake database; dbt builds models in ``CUSTSEG_SCHEMA``, raw tables in ``RAW``.

    One session is opened on first use and kept until :meth:`close` (a Snowflake login costs
    about a second; the load's temporary stage lives as long as the session).
    """

    target = "snowflake"

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        self._environ = os.environ if environ is None else environ
        #: Where the account is (from the environment; holds no secret).
        self.account = SnowflakeSettings.from_environ(self._environ)
        self._connection: Any = None

    @property
    def lock_path(self) -> Path:
        # One lock per database: every schema of a database shares its RAW tables.
        name = f"{self.account.account}-{self.account.database}"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        return self.settings.dbt_project_dir / "target" / f"custseg-snowflake-{safe}.lock"

    def describe(self) -> str:
        return f"Snowflake {self.account.describe()}"

    def dbt_env(self) -> dict[str, str]:
        # SNOWFLAKE_* are already in the environment dbt inherits; only the schema is passed on.
        return {**super().dbt_env(), SCHEMA_ENV: self.account.schema}

    def relation(self, name: str) -> str:
        # dbt-snowflake's unquoted names are stored in upper case.
        return f"{quote_identifier(self.account.schema.upper())}.{quote_identifier(name.upper())}"

    def rename_target(self, name: str) -> str:
        # An unqualified new name would move the table to the session's current schema.
        return self.relation(name)

    # ------------------------------------------------------------------ reading and writing

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]

    def execute(self, *statements: str) -> None:
        # One transaction for DML; Snowflake commits around each DDL statement on its own.
        with self._cursor() as cur:
            cur.execute("begin")
            try:
                for statement in statements:
                    cur.execute(statement)
                cur.execute("commit")
            except BaseException:
                with contextlib.suppress(SnowflakeError):
                    cur.execute("rollback")
                raise

    def table_exists(self, name: str) -> bool:
        ((count,),) = self.fetch(
            "select count(*) from information_schema.tables where table_schema = "
            f"{quote_literal(self.account.schema.upper())} and table_name = "
            f"{quote_literal(name.upper())} and table_type = 'BASE TABLE'"
        )
        return bool(count)

    # ------------------------------------------------------------------ loading raw files

    def replace_raw_tables(
        self, staged: duckdb.DuckDBPyConnection, checked: Sequence[CheckedInput]
    ) -> list[LoadedTable]:
        """Export the checked tables to Parquet, PUT them on a stage, COPY them into ``RAW``."""
        with tempfile.TemporaryDirectory(prefix="custseg-raw-") as tmp:
            exports = [_export_parquet(staged, item, Path(tmp)) for item in checked]
            with self._cursor() as cur:
                try:
                    counts = self._load(cur, exports)
                except SnowflakeError as exc:
                    raise ConfigError(
                        f"Snowflake {self.account.describe()} refused to replace the raw tables "
                        f"({_message(exc)}); their rows are unchanged. The role needs the CREATE "
                        f"SCHEMA privilege on the database (for schema {RAW_SCHEMA.upper()}), "
                        "CREATE TABLE and CREATE STAGE on it, and ownership of the raw tables."
                    ) from exc
        return with_row_counts(checked, counts)

    def _load(self, cur: Any, exports: Sequence[tuple[CheckedInput, Path, int]]) -> list[int]:
        """Load every exported file (with its row count) into its raw table; the counts."""
        raw = quote_identifier(RAW_SCHEMA.upper())
        stage = f"{raw}.{quote_identifier(LOAD_STAGE)}"
        # DDL first (each commits on its own): the schema, the stage, any table whose columns
        # changed. Then one transaction empties and fills every table.
        cur.execute(f"create schema if not exists {raw}")
        cur.execute(f"create temporary stage if not exists {stage}")
        for item, _, _ in exports:
            _ensure_table(cur, item)
        folder = uuid.uuid4().hex
        for item, parquet, _ in exports:
            # Parquet is compressed already: uploaded as it is.
            location = f"@{stage}/{folder}/{item.table.table_name}/"
            cur.execute(
                f"put {quote_literal(parquet.as_uri())} {location} "
                "overwrite = true auto_compress = false"
            )
        counts: list[int] = []
        cur.execute("begin")
        try:
            for item, _, rows in exports:
                table = _raw_relation(item)
                cur.execute(f"delete from {table}")
                location = f"@{stage}/{folder}/{item.table.table_name}/"
                try:
                    cur.execute(f"copy into {table} from {location} {COPY_OPTIONS}")
                except SnowflakeError as exc:
                    raise InputDataError(
                        f"{item.plan.source_path}: cannot be loaded into Snowflake "
                        f"({_message(exc)})."
                    ) from exc
                cur.execute(f"select count(*) from {table}")
                count = int(cur.fetchone()[0])
                if count != rows:
                    raise InputDataError(
                        f"{item.plan.source_path}: Snowflake loaded {count} of its {rows} "
                        "checked rows; the raw tables are unchanged."
                    )
                counts.append(count)
            cur.execute("commit")
        except BaseException:
            with contextlib.suppress(SnowflakeError):
                cur.execute("rollback")
            raise
        return counts

    # ------------------------------------------------------------------ the session

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self._connection is None:
            self._connection = self._connect()
        cur = self._connection.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _connect(self) -> Any:
        account = self.account
        try:
            return snowflake.connector.connect(**account.connect_args(self._environ))
        except SnowflakeError as exc:
            raise ConfigError(
                f"Cannot connect to Snowflake as {account.describe()}: {_message(exc)}. Check "
                "SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PASSWORD or "
                "SNOWFLAKE_PRIVATE_KEY_PATH, SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE and "
                "SNOWFLAKE_DATABASE."
            ) from exc

    def close(self) -> None:
        """Log out (the temporary load stage goes with the session)."""
        if self._connection is not None:
            with contextlib.suppress(SnowflakeError):
                self._connection.close()
        self._connection = None


def _message(exc: BaseException) -> str:
    """The connector's message on one line; it never contains the password."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _export_parquet(
    duck: duckdb.DuckDBPyConnection, item: CheckedInput, folder: Path
) -> tuple[CheckedInput, Path, int]:
    """Write a checked table (text columns, and the line numbers) to a Parquet file; return it
    with its row count."""
    path = folder / f"{item.table.table_name}.parquet"
    try:
        ((row_count,),) = duck.execute(
            f"copy (select * from {item.relation}) to {quote_literal(str(path))} (format parquet)"
        ).fetchall()
    except duckdb.Error as exc:
        raise InputDataError(
            f"{item.plan.source_path}: cannot be loaded ({first_line(exc)})."
        ) from exc
    return item, path, int(row_count)


def _columns(item: CheckedInput) -> list[tuple[str, str]]:
    """The raw table's columns (upper case, as Snowflake stores unquoted names) and types."""
    columns = [(name.upper(), "TEXT") for name in item.table.columns]
    if item.table.keep_line_numbers:
        columns.insert(0, (LINE_COLUMN.upper(), "NUMBER"))
    return columns


def _raw_relation(item: CheckedInput) -> str:
    return (
        f"{quote_identifier(RAW_SCHEMA.upper())}.{quote_identifier(item.table.table_name.upper())}"
    )


def _ensure_table(cur: Any, item: CheckedInput) -> None:
    """Create the raw table, or recreate it when its columns differ from those custseg loads.

    A table with the expected columns is kept (and emptied inside the load's transaction), so a
    failed load leaves its rows. Snowflake's views do not stop a table from being replaced.
    """
    columns = _columns(item)
    cur.execute(
        "select column_name, data_type from information_schema.columns where table_schema = "
        f"{quote_literal(RAW_SCHEMA.upper())} and table_name = "
        f"{quote_literal(item.table.table_name.upper())} order by ordinal_position"
    )
    existing = [(str(name), str(data_type)) for name, data_type in cur.fetchall()]
    if existing == columns:
        return
    column_list = ", ".join(
        f"{quote_identifier(name)} {'number(38, 0)' if data_type == 'NUMBER' else 'text'}"
        for name, data_type in columns
    )
    cur.execute(f"create or replace table {_raw_relation(item)} ({column_list})")
