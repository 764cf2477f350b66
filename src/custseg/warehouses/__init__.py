"""Warehouses custseg runs on: DuckDB (embedded default), PostgreSQL, Spark and Snowflake.

The dbt project is the same everywhere; a :class:`~custseg.warehouses.base.Warehouse` only knows
how to stage and load the raw files in its own way, how to read rows back for the ML step, and
which environment dbt needs. :func:`open_warehouse` picks the implementation of a target; an
engine's Python dependencies are imported only when its target is used.
"""

from __future__ import annotations

import importlib

from custseg.errors import ConfigError
from custseg.settings import TARGETS, Settings
from custseg.warehouses.base import Warehouse, as_date

#: dbt target -> "module:class" implementing it (one per name in custseg.settings.TARGETS).
IMPLEMENTATIONS: dict[str, str] = {
    "duckdb": "custseg.warehouses.duckdb_warehouse:DuckDBWarehouse",
    "postgres": "custseg.warehouses.postgres_warehouse:PostgresWarehouse",
    "spark": "custseg.warehouses.spark_warehouse:SparkWarehouse",
    "snowflake": "custseg.warehouses.snowflake_warehouse:SnowflakeWarehouse",
}


def open_warehouse(settings: Settings) -> Warehouse:
    """Create the warehouse of ``settings.target``.

    Raises
    ------
    ConfigError
        For an unknown target, or when the adapter of a known one is not installed.
    """
    if settings.target not in TARGETS:
        raise ConfigError(
            f"--target {settings.target!r} is not supported; choose one of {', '.join(TARGETS)}."
        )
    module_name, class_name = IMPLEMENTATIONS[settings.target].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"--target {settings.target}: its Python dependencies are not installed ({exc}). "
            f"Install them with: pip install 'custseg[{settings.target}]'."
        ) from exc
    warehouse: Warehouse = getattr(module, class_name)(settings)
    return warehouse


__all__ = ["IMPLEMENTATIONS", "Warehouse", "as_date", "open_warehouse"]
