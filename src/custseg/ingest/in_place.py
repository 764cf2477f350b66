"""A Parquet sales file read where the warehouse keeps it, instead of copied into a table.

Writing 50 million sales lines into a DuckDB table costs more than the checks, the repairs and
every later read of them together (13 of a 29 s load, measured on two cores), while DuckDB
scans a Parquet file about as fast as its own table (2.7 against 2.4 CPU s for all ten
columns). So a DuckDB warehouse keeps a byte-for-byte copy of the user's Parquet sales file
beside its database file (:class:`custseg.warehouses.duckdb_files.KeptInputs`), and its raw
sales table is a view over that copy:

- the view numbers the lines as the file does (:data:`~custseg.ingest.layout.LINE_COLUMN`), so
  every message of the checks names the user's row;
- the repairs cannot delete rows from a file: they list the lines they remove in a table of
  their own, which the view leaves out (:func:`custseg.ingest.staged.remove_rows`);
- the copy, the view and that table are swapped in with the other raw tables in one
  transaction; the user's file may change or go away afterwards.

Only files whose lines the loader numbers itself are read in place (the sales lines): the
other inputs are small, and their rules number rows by ``rowid``, which a view does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from custseg.ingest.files import RawFilePlan
from custseg.ingest.layout import LINE_COLUMN, is_parquet


@dataclass(frozen=True)
class InPlaceFile:
    """The warehouse's copy of one input file, and the table of the lines the repairs removed."""

    path: Path
    # SQL name of the table listing the removed lines (one column, ``line``).
    removed_lines: str


def can_read_in_place(plan: RawFilePlan) -> bool:
    """Whether ``plan``'s file can be read where it is kept: a given Parquet file whose lines
    the loader numbers from the file itself."""
    return (
        plan.source_path is not None
        and is_parquet(plan.source_path)
        and plan.table.keep_line_numbers
    )


def stage_in_place(
    con: duckdb.DuckDBPyConnection, plan: RawFilePlan, relation: str, kept: InPlaceFile
) -> None:
    """Create ``relation`` as a view reading ``kept.path`` as ``plan`` reads its file, without
    the lines listed in ``kept.removed_lines`` (created here, empty)."""
    con.execute(f"create or replace table {kept.removed_lines} (line bigint not null)")
    con.execute(
        f"create or replace view {relation} as select lines.* "
        f"from ({plan.select_from(con, kept.path)}) as lines "
        f"where not exists (select 1 from {kept.removed_lines} as removed "
        f"where removed.line = lines.{LINE_COLUMN})"
    )
