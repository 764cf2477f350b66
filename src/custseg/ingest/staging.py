"""The one way into the warehouse: read every file into DuckDB, check it, repair it.

Every engine loads its raw tables the same way (``Warehouse.load_raw``):

1. :func:`read_and_check` reads the input files with DuckDB into *staged* tables (where the
   warehouse says: beside the raw tables in a DuckDB warehouse file, or temporary tables in an
   in-memory DuckDB for PostgreSQL and Spark), then applies the input rules and repairs;
2. only then does the warehouse replace its raw tables with the checked rows, with its own bulk
   path, all five together where the engine allows it.

So a file that breaks a rule leaves every raw table of every engine as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from custseg.errors import ConfigError, InputDataError
from custseg.ingest.checks import reject_broken_rules
from custseg.ingest.files import RawFilePlan, plan_inputs
from custseg.ingest.invoice_checks import unmatched_categories
from custseg.ingest.layout import LoadedTable, RawTable
from custseg.ingest.mapping import InputSpec
from custseg.ingest.read_errors import read_error
from custseg.ingest.repairs import TableRepairs, not_given_notes, repair
from custseg.ingest.staged import StagedTable, staged_table
from custseg.settings import DUCKDB_MEMORY_LIMIT_DEFAULT, DUCKDB_MEMORY_LIMIT_ENV
from custseg.sql import quote_literal


@dataclass(frozen=True)
class CheckedInput:
    """One input file, read, checked and repaired: where its rows are and what it contributed."""

    plan: RawFilePlan
    # The staged table holding the checked rows, in the staging DuckDB connection.
    relation: str
    # Rows after the repairs, columns ignored, and the repairs and notes, for the run summary.
    loaded: LoadedTable

    @property
    def table(self) -> RawTable:
        return self.plan.table


def read_and_check(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    inputs: Sequence[InputSpec] = (),
    *,
    relation_for: Callable[[RawTable], str],
    keep_types: bool = False,
    strict_amounts: bool = False,
) -> list[CheckedInput]:
    """Read the input files of ``data_dir`` into staged tables of ``con``, check and repair them.

    Parameters
    ----------
    con
        The DuckDB connection to stage in (autocommit: each staged table is committed when it is
        created, which makes the later deletion of duplicate lines cheap).
    data_dir
        Folder holding the inputs.
    inputs
        The ``[inputs]`` of a config file; inputs without a spec are read the usual way.
    relation_for
        The SQL name of the staged table of each raw table; an existing one is replaced.
    keep_types
        Keep Parquet columns typed (the DuckDB target) instead of making them text.
    strict_amounts
        Reject sales lines with 0 in quantity, avg_price or amount instead of skipping them.

    Returns
    -------
    list of CheckedInput
        In the order of ``RAW_TABLES``.

    Raises
    ------
    InputDataError
        A file is missing, unreadable, lacks a column, has no data rows or breaks a rule. The
        caller drops what was staged; no raw table has been touched.
    """
    plans = plan_inputs(con, data_dir, inputs, keep_types=keep_types)
    tables: dict[str, StagedTable] = {}
    counts: dict[str, int] = {}
    for plan in plans:
        relation = relation_for(plan.table)
        try:
            con.execute(f"create or replace table {relation} as {plan.select_sql}")
        except duckdb.Error as exc:
            if plan.source_path is None:
                raise
            raise read_error(plan.source_path, exc, "loaded", plan.delimiter) from exc
        ((count,),) = con.execute(f"select count(*) from {relation}").fetchall()
        if count == 0 and plan.is_given:
            raise InputDataError(
                f"{plan.source_path}: the file has no data rows. Export it again with its rows."
            )
        counts[plan.table.table_name] = int(count)
        tables[plan.table.table_name] = staged_table(con, plan, relation)
    # Inputs not given are empty tables: no rule or repair applies to them.
    given = {name: table for name, table in tables.items() if table.plan.is_given}
    with memory_capped(con):
        unmatched = unmatched_categories(con, given)
        reject_broken_rules(con, given, unmatched, strict_amounts=strict_amounts)
        repairs = repair(con, given, unmatched)
    for name, notes in not_given_notes(data_dir, tables.values()).items():
        made = repairs.get(name, TableRepairs())
        repairs[name] = dataclasses.replace(made, messages=made.messages + notes.messages)
    return [_checked(table, counts, repairs) for table in tables.values()]


def _checked(
    table: StagedTable, counts: dict[str, int], repairs: dict[str, TableRepairs]
) -> CheckedInput:
    name = table.plan.table.table_name
    made = repairs.get(name, TableRepairs())
    loaded = LoadedTable(
        table_name=name,
        source_path=table.plan.source_path,
        row_count=counts[name] - made.rows_removed,
        ignored_columns=table.plan.ignored_columns,
        repairs=made.messages,
    )
    return CheckedInput(table.plan, table.relation, loaded)


def with_row_counts(checked: Sequence[CheckedInput], counts: Sequence[int]) -> list[LoadedTable]:
    """What each input contributed, with the row counts the warehouse reports after loading."""
    return [
        dataclasses.replace(item.loaded, row_count=int(count))
        for item, count in zip(checked, counts, strict=True)
    ]


def repair_messages(loaded: Sequence[LoadedTable]) -> list[str]:
    """Every repair and note of a load, in file order, for the run summary."""
    return [message for table in loaded for message in table.repairs]


@contextlib.contextmanager
def memory_capped(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Cap DuckDB's memory as dbt's profile does while the checks run; restore it afterwards.

    The large aggregations of the checks then spill to disk beyond the cap instead of taking
    80% of the machine.
    """
    (previous,) = con.execute("select current_setting('memory_limit')").fetchone()
    limit = os.environ.get(DUCKDB_MEMORY_LIMIT_ENV) or DUCKDB_MEMORY_LIMIT_DEFAULT
    try:
        con.execute(f"set memory_limit = {quote_literal(limit)}")
    except duckdb.Error as exc:
        raise ConfigError(
            f"{DUCKDB_MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB understands "
            "(e.g. 2GB, 512MB)."
        ) from exc
    try:
        yield
    finally:
        con.execute(f"set memory_limit = {quote_literal(previous)}")
