"""A Parquet sales file is read in place on DuckDB: kept beside the database, never copied in.

The raw sales table is then a view over a copy in ``<database>.inputs/``
(:mod:`custseg.ingest.in_place`, :mod:`custseg.warehouses.duckdb_files`). These tests hold it to
what a copied table promised: the repairs still remove their lines, the user's file may go away
after the load, a rejected file or a load killed at any point leaves the previous sales whole,
and nothing of an earlier or failed load is left behind once a load succeeds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from custseg.errors import InputDataError
from custseg.sql import quote_literal
from custseg.warehouses.duckdb_files import FOLDER_SUFFIX
from tests.support import INPUT_FILES, load_into_duckdb, write_input_files

SALES_HEADER = INPUT_FILES["Online_Sales.csv"].splitlines()[0]
FIRST_LINE = "0017,1,1/5/2019,SKU1,Bag,Apparel,2,10.5,6.5,Used"
# Data set A: line 3 repeats line 2 value for value, line 4 is worth nothing (quantity 0).
LINES_A = (
    FIRST_LINE,
    FIRST_LINE,
    "0017,2,2/5/2019,SKU3,Cup,Office,0,4,0,Used",
    "A-2,1,12/31/2019,SKU2,Pen,Office,1,3,0,Clicked",
)
# Data set B: other orders, nothing to repair.
LINES_B = (
    "0017,7,3/1/2019,SKU1,Bag,Apparel,1,10.5,6.5,Used",
    "A-2,8,4/1/2019,SKU2,Pen,Office,5,3,0,Clicked",
    "A-2,9,4/2/2019,SKU2,Pen,Office,1,3,0,Used",
)


def parquet_data(folder: Path, lines: tuple[str, ...]) -> Path:
    """The usual small inputs, with ``lines`` as a Parquet sales file (text columns)."""
    write_input_files(folder, **{"Online_Sales.csv": "\n".join((SALES_HEADER, *lines)) + "\n"})
    csv_path, parquet_path = folder / "Online_Sales.csv", folder / "Online_Sales.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_csv({quote_literal(str(csv_path))}, all_varchar = true)) "
            f"to {quote_literal(str(parquet_path))} (format parquet)"
        )
    csv_path.unlink()
    return folder


def kept_files(database: Path) -> list[str]:
    folder = database.with_name(database.name + FOLDER_SUFFIX)
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def raw_state(database: Path) -> tuple[str, list[tuple[object, ...]], list[str]]:
    """The raw sales' kind, their (line, customer, transaction) rows, and the raw tables."""
    with duckdb.connect(str(database)) as con:
        (kind,) = con.execute(
            "select table_type from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'online_sales'"
        ).fetchone()
        rows = con.execute(
            "select file_line_number, customerid, transaction_id from raw.online_sales order by 1"
        ).fetchall()
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw' order by 1"
            ).fetchall()
        ]
    return kind, rows, tables


ROWS_A = [(2, "0017", "1"), (5, "A-2", "1")]
ROWS_B = [(2, "0017", "7"), (3, "A-2", "8"), (4, "A-2", "9")]


def removed_lines_tables(tables: list[str]) -> list[str]:
    return [name for name in tables if "__removed_lines__" in name]


def test_the_raw_sales_read_a_copy_and_the_repairs_leave_out_their_lines(tmp_path: Path) -> None:
    data = parquet_data(tmp_path / "a", LINES_A)
    database = tmp_path / "w.duckdb"
    loaded = load_into_duckdb(database, data)
    sales = next(table for table in loaded if table.table_name == "online_sales")
    assert sales.row_count == 2
    assert any("exact duplicate" in message for message in sales.repairs)
    assert any("worth nothing" in message for message in sales.repairs)
    kind, rows, tables = raw_state(database)
    assert (kind, rows) == ("VIEW", ROWS_A)
    # The copy is the user's file byte for byte; the removed lines are the copy and the free item.
    (copy,) = kept_files(database)
    folder = database.with_name(database.name + FOLDER_SUFFIX)
    assert (folder / copy).read_bytes() == (data / "Online_Sales.parquet").read_bytes()
    (removed,) = removed_lines_tables(tables)
    with duckdb.connect(str(database)) as con:
        lines = con.execute(f'select line from raw."{removed}" order by 1').fetchall()
    assert lines == [(3,), (4,)]
    # The user's file may go away: the warehouse reads its own copy.
    (data / "Online_Sales.parquet").unlink()
    assert raw_state(database)[1] == ROWS_A


def test_the_next_load_leaves_only_its_own_copy(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    load_into_duckdb(database, parquet_data(tmp_path / "a", LINES_A))
    (first,) = kept_files(database)
    load_into_duckdb(database, parquet_data(tmp_path / "b", LINES_B))
    kind, rows, tables = raw_state(database)
    assert (kind, rows) == ("VIEW", ROWS_B)
    (second,) = kept_files(database)
    assert second != first
    (removed,) = removed_lines_tables(tables)
    assert removed.endswith(second.split(".")[1])
    # A text file is copied into a table: no copy and no removed-lines table remain.
    load_into_duckdb(database, write_input_files(tmp_path / "csv"))
    kind, _, tables = raw_state(database)
    assert kind == "BASE TABLE"
    assert kept_files(database) == []
    assert removed_lines_tables(tables) == []


def test_a_rejected_file_leaves_the_previous_sales_and_nothing_else(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    load_into_duckdb(database, parquet_data(tmp_path / "a", LINES_A))
    before = raw_state(database), kept_files(database)
    bad = parquet_data(tmp_path / "bad", (*LINES_B, "A-2,9,13/45/2019,SKU2,Pen,Office,1,3,0,Used"))
    with pytest.raises(
        InputDataError, match=r"Online_Sales\.parquet row 4, column transaction_date"
    ):
        load_into_duckdb(database, bad)
    assert (raw_state(database), kept_files(database)) == before


# Where the child load kills itself (SIGKILL: nothing runs after), as code patching custseg.
KILL_POINTS = {
    "copied": (
        "import custseg.warehouses.duckdb_files as m\nm.fsync_directory = lambda folder: die()\n"
    ),
    "staged": (
        "import custseg.ingest.staging as m\n"
        "real = m.stage_in_place\n"
        "m.stage_in_place = lambda *a: (real(*a), die())\n"
    ),
    "repaired": (
        "import custseg.ingest.staging as m\n"
        "real = m.repair\n"
        "m.repair = lambda *a: (real(*a), die())\n"
    ),
    # Inside the swap's transaction: the sales view already renamed, the other tables not yet.
    "swapping": (
        "import custseg.warehouses.duckdb_warehouse as m\n"
        "real = m._drop_relation\n"
        "m._drop_relation = lambda con, name: die() if name == 'tax_amount' else real(con, name)\n"
    ),
    # Committed, before the previous load's copy is removed.
    "committed": (
        "import custseg.warehouses.duckdb_files as m\n"
        "calls = []\n"
        "real = m.KeptInputs.discard_unused\n"
        "def discard(self, con):\n"
        "    calls.append(1)\n"
        "    die() if len(calls) == 2 else real(self, con)\n"
        "m.KeptInputs.discard_unused = discard\n"
    ),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_a_load_killed_anywhere_leaves_the_old_sales_or_the_new(tmp_path: Path, point: str) -> None:
    database = tmp_path / "w.duckdb"
    load_into_duckdb(database, parquet_data(tmp_path / "a", LINES_A))
    new = parquet_data(tmp_path / "b", LINES_B)
    child = (
        textwrap.dedent(
            """
        import os, signal, sys
        from pathlib import Path
        from custseg.settings import Settings
        from custseg.warehouses.duckdb_warehouse import DuckDBWarehouse
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        """
        )
        + KILL_POINTS[point]
        + ("DuckDBWarehouse(Settings(duckdb_path=Path(sys.argv[1]))).load_raw(Path(sys.argv[2]))\n")
    )
    done = subprocess.run(
        [sys.executable, "-c", child, str(database), str(new)], capture_output=True, text=True
    )
    assert done.returncode == -9, done.stderr
    kind, rows, _ = raw_state(database)
    assert kind == "VIEW"
    assert rows == (ROWS_B if point == "committed" else ROWS_A)
    # The next load carries on and leaves only what its raw sales read.
    load_into_duckdb(database, new)
    kind, rows, tables = raw_state(database)
    assert (kind, rows) == ("VIEW", ROWS_B)
    (copy,) = kept_files(database)
    assert [name.rsplit("__", 1)[1] for name in removed_lines_tables(tables)] == [
        copy.split(".")[1]
    ]
    assert not any(name.endswith("__custseg_staged") for name in tables)
