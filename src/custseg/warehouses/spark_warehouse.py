"""Apache Spark in a local session: the SparkSession runs inside this Python process.

dbt-spark's ``session`` method calls ``SparkSession.builder...getOrCreate()`` in the process that
runs dbt, and custseg runs dbt in-process, so custseg and dbt share ONE session. Only the first
``getOrCreate`` of a process decides the static settings (warehouse folder, metastore, driver
memory): this module therefore builds the session from exactly the settings the ``spark`` output
of ``dbt_pipeline/profiles.yml`` passes (``server_side_parameters``), read from the same
environment variables with the same defaults, and exports them to dbt in :meth:`dbt_env`.

Every file the session writes (warehouse, Derby metastore, ``derby.log``) goes under one folder,
``CUSTSEG_SPARK_DIR`` (default ``dbt_pipeline/target/spark``), never into the current directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from custseg.errors import ConfigError, InputDataError, first_line
from custseg.ingest.layout import RAW_SCHEMA, LoadedTable
from custseg.ingest.staging import CheckedInput, with_row_counts
from custseg.settings import SCHEMA_DEFAULT, SCHEMA_ENV, Settings
from custseg.sql import quote_literal, require_plain_identifier
from custseg.warehouses.base import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Environment variables read by the `spark` output of profiles.yml; defaults are the profile's.
SPARK_DIR_ENV = "CUSTSEG_SPARK_DIR"
DRIVER_MEMORY_ENV = "CUSTSEG_SPARK_DRIVER_MEMORY"
# The profile's default 'target/spark' is relative to the folder dbt runs in (dbt_pipeline/).
DEFAULT_SPARK_FOLDER = Path("target") / "spark"
DEFAULT_DRIVER_MEMORY = "2g"
# The profile binds the driver to the loopback interface; Spark also reads SPARK_LOCAL_IP
# before the JVM starts (otherwise it resolves the host name and warns).
LOCAL_IP = "127.0.0.1"


def session_settings(spark_dir: Path, driver_memory: str) -> dict[str, str]:
    """The SparkSession settings of the ``spark`` output in ``profiles.yml``.

    Keep this in step with ``server_side_parameters`` there (a test renders the profile and
    compares). ``spark.sql.ansi.enabled`` is the one setting dbt-spark adds on its own.

    Parameters
    ----------
    spark_dir
        Absolute folder for the warehouse, the Derby metastore and ``derby.log``.
    driver_memory
        JVM heap of the driver, e.g. ``2g``.
    """
    return {
        "spark.sql.warehouse.dir": f"{spark_dir}/warehouse",
        "spark.driver.memory": driver_memory,
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.driver.bindAddress": LOCAL_IP,
        "spark.driver.host": LOCAL_IP,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}/derby",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir}/metastore_db;create=true"
        ),
        "spark.hadoop.hive.downloaded.resources.dir": f"{spark_dir}/hive-resources",
        "spark.sql.ansi.enabled": "false",
    }


#: Spark's start-up logging for custseg's sessions. Without a configuration of its own, Spark
#: prints 'Setting default log level to "WARN"' and a hint on every start, and Hadoop warns that
#: its native library is missing (harmless: the Java code is used); real warnings still show.
LOG4J2_PROPERTIES = """\
# Written by custseg: Spark's logging while custseg starts a local session.
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.native_code_loader.name = org.apache.hadoop.util.NativeCodeLoader
logger.native_code_loader.level = error
"""


def use_quiet_logging(spark_dir: Path) -> None:
    """Point Spark at :data:`LOG4J2_PROPERTIES` (in ``spark_dir/conf``) before its JVM starts.

    A ``SPARK_CONF_DIR`` the user set is left alone: their Spark configuration wins.
    """
    if os.environ.get("SPARK_CONF_DIR"):
        return
    conf = spark_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")
    os.environ["SPARK_CONF_DIR"] = str(conf)


def java_executable() -> str | None:
    """The ``java`` Spark would start (``$JAVA_HOME/bin/java``, else ``java`` on PATH), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


class SparkWarehouse(Warehouse):
    """A local Spark session with a Derby metastore; dbt builds models in schema ``CUSTSEG_SCHEMA``.

    The session is started on first use. :meth:`close` stops it only when this warehouse started
    it: a session that was already running (a notebook's, a test fixture's) is left running.
    """

    target = "spark"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        from_env = os.environ.get(SPARK_DIR_ENV)
        # A relative CUSTSEG_SPARK_DIR is taken from the current folder, as dbt would.
        folder = Path(from_env) if from_env else settings.dbt_project_dir / DEFAULT_SPARK_FOLDER
        #: Absolute folder holding warehouse/, metastore_db/ and derby/ (with derby.log).
        self.spark_dir = folder.resolve()
        self.driver_memory = os.environ.get(DRIVER_MEMORY_ENV) or DEFAULT_DRIVER_MEMORY
        self.schema = require_plain_identifier(
            os.environ.get(SCHEMA_ENV) or SCHEMA_DEFAULT, SCHEMA_ENV
        )
        self._session: SparkSession | None = None
        self._started_session = False

    @property
    def spark_conf(self) -> dict[str, str]:
        """The SparkSession settings, identical to those dbt's profile passes."""
        return session_settings(self.spark_dir, self.driver_memory)

    @property
    def lock_path(self) -> Path:
        # One run per project: runs also race on the project's seed CSVs.
        return self.settings.dbt_project_dir / "target" / "custseg-spark.lock"

    @property
    def session(self) -> SparkSession:
        """The process's SparkSession, started with :attr:`settings` if none runs yet.

        Raises
        ------
        ConfigError
            When Java is missing, or a session with another warehouse or metastore already runs
            in this process (its static settings cannot be changed).
        """
        if self._session is None:
            use_quiet_logging(self.spark_dir)
            self._session, self._started_session = start_session(self.spark_conf)
        return self._session

    def replace_raw_tables(
        self, staged: duckdb.DuckDBPyConnection, checked: Sequence[CheckedInput]
    ) -> list[LoadedTable]:
        """Export the checked tables to Parquet, then overwrite ``raw.<table>`` through Spark.

        Spark has no multi-table transactions. Every file was read and checked before this is
        called, and every export is written before the first raw table is touched: bad input
        leaves all raw tables as they were. A crash (killed process, full disk) while the tables
        are being overwritten leaves some raw tables new and the others old, or the table being
        written missing; the next run, which always reloads all five, repairs that.
        """
        self.spark_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="raw-load-", dir=self.spark_dir) as scratch:
            exported: list[tuple[Path, CheckedInput, int]] = []
            for item in checked:
                parquet = Path(scratch) / f"{item.table.table_name}.parquet"
                try:
                    ((row_count,),) = staged.execute(
                        f"copy (select * from {item.relation}) to "
                        f"{quote_literal(str(parquet))} (format parquet)"
                    ).fetchall()
                except duckdb.Error as exc:
                    raise InputDataError(
                        f"{item.plan.source_path}: cannot be loaded ({first_line(exc)})."
                    ) from exc
                exported.append((parquet, item, int(row_count)))

            # Everything is validated and exported: only now are the raw tables replaced.
            spark = self.session
            spark.sql(f"create database if not exists `{RAW_SCHEMA}`")
            for parquet, item, _ in exported:
                spark.read.parquet(str(parquet)).write.mode("overwrite").format(
                    "parquet"
                ).saveAsTable(f"`{RAW_SCHEMA}`.`{item.table.table_name}`")
        return with_row_counts(checked, [count for _, _, count in exported])

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query; rows come back as plain tuples of Python values.

        Values are converted the way DuckDB's driver returns them: ``float`` for double columns,
        ``Decimal`` for decimal columns, ``datetime.date`` for dates.
        """
        frame = self.session.sql(sql)
        doubles = [
            field.dataType.typeName() in {"double", "float"} for field in frame.schema.fields
        ]
        return [
            tuple(_plain(value, is_double) for value, is_double in zip(row, doubles, strict=True))
            for row in frame.collect()
        ]

    def execute(self, *statements: str) -> None:
        # Spark has no multi-statement transaction: the statements run one after the other.
        for statement in statements:
            self.session.sql(statement)

    def table_exists(self, name: str) -> bool:
        return bool(self.session.catalog.tableExists(self.relation(name)))

    def copy_table(self, name: str, copy: str) -> None:
        # CREATE TABLE ... LIKE keeps the table's format and partitioning: the history tables
        # are partitioned by as_of_date, which dbt's insert_overwrite names. A copy made by
        # CREATE TABLE AS SELECT has no partitions, and once put back after a failed
        # publication the next run could not overwrite its as-of date.
        self.execute(
            f"drop table if exists {self.relation(copy)}",
            f"create table {self.relation(copy)} like {self.relation(name)}",
            f"insert into {self.relation(copy)} select * from {self.relation(name)}",
        )

    def rename_target(self, name: str) -> str:
        # Spark's session catalog wants the database in the new name too.
        return self.relation(name)

    def relation(self, name: str) -> str:
        return f"{self.schema}.{name}"

    def describe(self) -> str:
        return f"Spark session, warehouse {self.spark_dir / 'warehouse'}, schema {self.schema}"

    def dbt_env(self) -> dict[str, str]:
        return {
            **super().dbt_env(),
            SPARK_DIR_ENV: str(self.spark_dir),
            DRIVER_MEMORY_ENV: self.driver_memory,
            SCHEMA_ENV: self.schema,
            "SPARK_LOCAL_IP": LOCAL_IP,
        }

    def close(self) -> None:
        """Stop the session if this warehouse started it."""
        if self._session is not None and self._started_session:
            self._session.stop()
        self._session = None
        self._started_session = False


def start_session(settings: dict[str, str]) -> tuple[SparkSession, bool]:
    """Get the process's SparkSession, starting it with ``settings`` if none runs.

    Returns the session and whether this call started it.

    Raises
    ------
    ConfigError
        When Java is missing, or a running session has another warehouse folder or metastore.
    """
    from pyspark.sql import SparkSession

    if java_executable() is None:
        raise ConfigError(
            "--target spark needs Java 17, and none was found: set JAVA_HOME or put `java` on "
            "PATH (Debian: apt-get install openjdk-17-jre-headless)."
        )
    try:
        SparkSession.active()
        already_running = True
    except Exception:  # PySparkRuntimeError(NO_ACTIVE_OR_DEFAULT_SESSION)
        already_running = False
    os.environ["SPARK_LOCAL_IP"] = LOCAL_IP
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pyspark raises a bare RuntimeError/PySparkRuntimeError
        raise ConfigError(
            f"The Spark session could not start ({first_line(exc)}). Check that "
            f"{java_executable()} is Java 17 and that {settings['spark.sql.warehouse.dir']} "
            "can be written."
        ) from exc
    if not already_running:
        # dbt-spark asks for the session before every statement, passing static settings
        # again; Spark warns about each one. Errors are what a run's user needs to see.
        session.sparkContext.setLogLevel("ERROR")
    _check_static_settings(session, settings)
    return session, not already_running


def _check_static_settings(session: SparkSession, settings: dict[str, str]) -> None:
    """Refuse a running session whose warehouse or metastore differs from ``settings``."""
    context_conf = session.sparkContext.getConf()
    for key in ("spark.sql.warehouse.dir", "spark.hadoop.javax.jdo.option.ConnectionURL"):
        actual = context_conf.get(key)
        expected = settings[key]
        # Spark stores the warehouse folder as a file: URI.
        if actual is None or actual.removeprefix("file:") != expected:
            raise ConfigError(
                f"A Spark session already runs in this process with {key}={actual}, but this run "
                f"needs {expected}. Static Spark settings cannot change in a running session: "
                f"use the same {SPARK_DIR_ENV} or run custseg in a new process."
            )


def _plain(value: Any, is_double: bool) -> Any:
    # Rows are tuples already; double columns come back as float, made explicit here so that
    # a numeric type from another Spark version cannot reach numpy as an object.
    if is_double and value is not None:
        return float(value)
    return value
