"""The interface every warehouse implements, and the factory that picks one by dbt target."""

from __future__ import annotations

import abc
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from custseg.errors import ConfigError
from custseg.raw_load import LoadedTable, quote_identifier

if TYPE_CHECKING:
    from custseg.config import RunConfig

#: dbt target name -> "module:class" implementing it.
TARGETS: dict[str, str] = {
    "duckdb": "custseg.warehouses.duckdb_warehouse:DuckDBWarehouse",
    "postgres": "custseg.warehouses.postgres_warehouse:PostgresWarehouse",
    "spark": "custseg.warehouses.spark_warehouse:SparkWarehouse",
}


class Warehouse(abc.ABC):
    """One engine the dbt project runs on.

    A warehouse is opened per run and closed at the end (it is a context manager). Relations dbt
    built are read with :meth:`fetch` through :meth:`relation`, which qualifies a model or seed
    name the way this engine needs.
    """

    #: dbt target name in profiles.yml.
    target: str

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    def load_raw(self, data_dir: Path) -> list[LoadedTable]:
        """Replace the raw tables with the files in ``data_dir`` using the engine's bulk path."""

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

    @abc.abstractmethod
    def execute(self, *statements: str) -> None:
        """Run statements that return no rows, in one transaction where the engine has them."""

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table of model or seed ``name`` exists in the schema dbt builds in."""

    def copy_table(self, name: str, copy: str) -> None:
        """Replace table ``copy`` with a copy of table ``name`` (which stays as it is)."""
        self.execute(
            f"drop table if exists {self.relation(copy)}",
            f"create table {self.relation(copy)} as select * from {self.relation(name)}",
        )

    def replace_table(self, name: str, replacement: str) -> None:
        """Drop table ``name`` and give table ``replacement`` its name."""
        self.execute(
            f"drop table if exists {self.relation(name)}",
            f"alter table {self.relation(replacement)} rename to {self.rename_target(name)}",
        )

    def drop_table(self, name: str) -> None:
        self.execute(f"drop table if exists {self.relation(name)}")

    def rename_target(self, name: str) -> str:
        """How ALTER TABLE ... RENAME TO names the new table (unqualified on most engines)."""
        return quote_identifier(name)

    @abc.abstractmethod
    def relation(self, name: str) -> str:
        """The SQL name of a model or seed dbt built (schema-qualified where needed)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the data lives, for the run summary (never a secret)."""

    @property
    @abc.abstractmethod
    def lock_path(self) -> Path:
        """Lock file that keeps two custseg runs off this warehouse."""

    #: How else to avoid waiting for a run that holds the lock (ends the lock error message).
    lock_alternative: str = ""

    def dbt_env(self) -> dict[str, str]:
        """Environment variables dbt's profile needs for this warehouse."""
        return {"CUSTSEG_TARGET": self.target}

    def close(self) -> None:  # noqa: B027 - most warehouses hold nothing open between calls
        """Release connections."""


def open_warehouse(config: RunConfig) -> Warehouse:
    """Create the warehouse of ``config.target``.

    Raises
    ------
    ConfigError
        For an unknown target, or when the adapter of a known one is not installed.
    """
    try:
        module_name, class_name = TARGETS[config.target].split(":")
    except KeyError:
        raise ConfigError(
            f"--target {config.target!r} is not supported; choose one of {', '.join(TARGETS)}."
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"--target {config.target}: its Python dependencies are not installed ({exc}). "
            f"Install them with: pip install 'custseg[{config.target}]'."
        ) from exc
    warehouse: Warehouse = getattr(module, class_name)(config)
    return warehouse
