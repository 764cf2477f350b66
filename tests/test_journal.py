"""The publication journal, killed after every single file or table operation.

A publication of two files and two DuckDB tables (one file replaced at once like a seed, one
staged like the model, one removed like a report that could not be drawn) dies just before and
just after its Nth operation, for every N: every ``os.replace`` (each atomic file write, each
rename of a kept or staged file, each journal state) and every batch of table statements (the
copies of the previous tables, dbt's builds, the restores). Dying is an
exception that no handler of the publication gets to act on, as with SIGKILL: the rollback is
switched off. :func:`custseg.publish.journal.recover` must then leave everything previous or
everything new, and nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import custseg.publish.publication as publication_module
from custseg.errors import ConfigError
from custseg.publish.journal import LAST_GOOD_SUFFIX, recover
from custseg.publish.publication import publication
from custseg.settings import ProjectLayout, resolve_settings
from custseg.warehouses import open_warehouse
from custseg.warehouses.duckdb_warehouse import DuckDBWarehouse

TABLES = ("alpha", "beta")
OLD = {"seed.csv": b"old seed\n", "model.json": b"old model\n", "report.html": b"old report\n"}
NEW = {"seed.csv": b"new seed\n", "model.json": b"new model\n"}  # the report is removed


class Died(BaseException):
    """The process died here (nothing after this point runs)."""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[ProjectLayout, DuckDBWarehouse]]:
    (tmp_path / "dbt_pipeline").mkdir()
    (tmp_path / "dbt_pipeline" / "dbt_project.yml").write_text("name: journal_test\n")
    settings = resolve_settings(project_dir=tmp_path, duckdb_path=tmp_path / "w.duckdb")
    with open_warehouse(settings) as warehouse:
        assert isinstance(warehouse, DuckDBWarehouse)
        yield settings.layout, warehouse


def publish_old(layout: ProjectLayout, warehouse: DuckDBWarehouse) -> dict[str, Path]:
    layout.output_dir.mkdir(parents=True)
    paths = {name: layout.output_dir / name for name in OLD}
    for name, data in OLD.items():
        paths[name].write_bytes(data)
    warehouse.execute(*(f"create table {t} as select 1 as version" for t in TABLES))
    return paths


def publish_new(warehouse: DuckDBWarehouse, layout: ProjectLayout, paths: dict[str, Path]) -> None:
    with publication(layout, warehouse, list(paths.values()), TABLES) as files:
        files.replace_now(paths["seed.csv"], NEW["seed.csv"])
        warehouse.execute(*(f"create or replace table {t} as select 2 as version" for t in TABLES))
        files.stage(paths["model.json"], NEW["model.json"])
        files.stage(paths["report.html"], None)


def state(layout: ProjectLayout, warehouse: DuckDBWarehouse, paths: dict[str, Path]) -> str:
    """'old' or 'new' after checking that files and tables agree and nothing is left."""
    files = {name: path.read_bytes() for name, path in paths.items() if path.exists()}
    versions = {table: warehouse.fetch(f"select version from {table}") for table in TABLES}
    left = sorted(p.name for p in layout.output_dir.iterdir() if p.name.startswith("."))
    copies = warehouse.fetch(
        "select table_name from information_schema.tables "
        f"where table_name like '%{LAST_GOOD_SUFFIX}'"
    )
    assert (left, copies) == ([], [])
    if files == OLD:
        assert versions == {table: [(1,)] for table in TABLES}
        return "old"
    assert files == NEW
    assert versions == {table: [(2,)] for table in TABLES}
    return "new"


def test_a_publication_killed_after_any_operation_recovers_whole(
    project: tuple[ProjectLayout, DuckDBWarehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, warehouse = project
    paths = publish_old(layout, warehouse)
    outcomes = []
    attempts = [(n, before) for n in range(1, 200) for before in (True, False)]
    for die_at, before in attempts:
        operations = 0

        def counted(function, die_at=die_at, before=before):  # noqa: ANN001, ANN202
            # Dies just before the operation (an atomic write's temporary file is then left
            # behind, unrenamed) or just after it.
            def operation(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                nonlocal operations
                operations += 1
                if before and operations == die_at:
                    raise Died
                result = function(*args, **kwargs)
                if not before and operations == die_at:
                    raise Died
                return result

            return operation

        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", counted(os.replace))
            patch.setattr(warehouse, "execute", counted(warehouse.execute))
            patch.setattr(publication_module, "_roll_back", lambda writer, warehouse: None)
            try:
                publish_new(warehouse, layout, paths)
                died = False
            except Died:
                died = True
        if died:
            # No journal only when it died before the journal's first state was written.
            journal_written = layout.journal_path.exists()
            assert journal_written or (die_at, before) == (1, True)
            said = recover(layout.journal_path, layout.root, warehouse)
            assert bool(said) == journal_written, die_at
        outcomes.append(state(layout, warehouse, paths))
        if not died:
            break
        if outcomes[-1] == "new":  # start the next attempt from the old publication again
            for name, data in OLD.items():
                paths[name].write_bytes(data)
            warehouse.execute(
                *(f"create or replace table {t} as select 1 as version" for t in TABLES)
            )
    assert not died, "the publication completed once no operation failed"
    # Early deaths roll back, deaths after the commit complete; both happened.
    assert outcomes[0] == "old" and outcomes[-1] == "new"
    assert "old" in outcomes[:-1] and "new" in outcomes[:-1], outcomes
    assert len(outcomes) >= 17, f"only {len(outcomes)} deaths: the test lost its reach"


def test_an_exception_in_publishing_puts_everything_back_at_once(
    project: tuple[ProjectLayout, DuckDBWarehouse],
) -> None:
    layout, warehouse = project
    paths = publish_old(layout, warehouse)
    with (
        pytest.raises(RuntimeError) as caught,
        publication(layout, warehouse, list(paths.values()), TABLES) as files,
    ):
        files.replace_now(paths["seed.csv"], NEW["seed.csv"])
        warehouse.execute("create or replace table alpha as select 2 as version")
        warehouse.execute("drop table beta")  # what a failed rebuild may leave
        raise RuntimeError("disk full")
    assert caught.value.__notes__ == [publication_module.PUT_BACK]
    assert not layout.journal_path.exists()
    assert state(layout, warehouse, paths) == "old"


def test_a_first_publication_that_fails_leaves_no_tables_and_no_files(
    project: tuple[ProjectLayout, DuckDBWarehouse],
) -> None:
    layout, warehouse = project
    layout.output_dir.mkdir(parents=True)
    paths = {name: layout.output_dir / name for name in OLD}
    with (
        pytest.raises(RuntimeError),
        publication(layout, warehouse, list(paths.values()), TABLES) as files,
    ):
        files.replace_now(paths["seed.csv"], NEW["seed.csv"])
        warehouse.execute(*(f"create table {t} as select 2 as version" for t in TABLES))
        raise RuntimeError("a test failed")
    assert [p for p in paths.values() if p.exists()] == []
    assert not any(warehouse.table_exists(t) for t in TABLES)
    assert list(layout.output_dir.iterdir()) == []


def test_existing_tables_names_the_tables_and_neither_views_nor_missing_names(
    project: tuple[ProjectLayout, DuckDBWarehouse],
) -> None:
    _, warehouse = project
    warehouse.execute(
        "create table alpha as select 1 as version",
        "create view beta as select * from alpha",
    )
    names = ["alpha", "beta", "gamma"]
    assert warehouse.existing_tables(names) == {"alpha"}
    assert warehouse.existing_tables(names) == {n for n in names if warehouse.table_exists(n)}
    assert warehouse.existing_tables([]) == set()


def test_a_journal_of_another_warehouse_is_not_repaired_here(
    project: tuple[ProjectLayout, DuckDBWarehouse], tmp_path: Path
) -> None:
    layout, warehouse = project
    paths = publish_old(layout, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publication_module, "_roll_back", lambda writer, warehouse: None)
        with pytest.raises(Died), publication(layout, warehouse, list(paths.values()), TABLES):
            raise Died
    other = resolve_settings(project_dir=tmp_path, duckdb_path=tmp_path / "other.duckdb")
    with open_warehouse(other) as elsewhere, pytest.raises(ConfigError) as caught:
        recover(layout.journal_path, layout.root, elsewhere)
    assert f"into DuckDB file {warehouse.path} was interrupted" in str(caught.value)
    assert "custseg recover" in str(caught.value)
    # Repaired where it belongs, it was rolled back (it died before committing).
    assert recover(layout.journal_path, layout.root, warehouse)
    assert state(layout, warehouse, paths) == "old"
    with duckdb.connect(str(tmp_path / "other.duckdb")) as con:
        assert con.execute("select count(*) from information_schema.tables").fetchone() == (0,)


def test_writes_a_kill_cut_short_are_cleaned_up(
    project: tuple[ProjectLayout, DuckDBWarehouse],
) -> None:
    """SIGKILL gives an atomic write no chance to remove its temporary file; recovery does."""
    layout, warehouse = project
    paths = publish_old(layout, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publication_module, "_roll_back", lambda writer, warehouse: None)
        with pytest.raises(Died), publication(layout, warehouse, list(paths.values()), TABLES):
            raise Died
    unfinished = [
        layout.output_dir / ".seed.csv.k1ll3d.tmp",
        layout.output_dir / ".model.json.custseg-new.k1ll3d.tmp",
        layout.output_dir / "..custseg-publication.json.k1ll3d.tmp",  # the journal is a dot file
    ]
    for path in unfinished:
        path.write_bytes(b"half")
    assert recover(layout.journal_path, layout.root, warehouse)
    assert state(layout, warehouse, paths) == "old"
    # Without a journal (killed while its first state was written) they go too.
    unfinished[-1].write_bytes(b"half")
    assert recover(layout.journal_path, layout.root, warehouse) is None
    assert state(layout, warehouse, paths) == "old"
