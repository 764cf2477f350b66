"""Warehouses custseg runs on: DuckDB (embedded default), PostgreSQL and Spark.

The dbt project is the same everywhere; a warehouse only knows how to bulk-load the raw files in
its own way, how to read rows back for the ML step, and which environment dbt needs.
"""

from __future__ import annotations

from custseg.warehouses.base import TARGETS, Warehouse, open_warehouse

__all__ = ["TARGETS", "Warehouse", "open_warehouse"]
