"""Publishing is one unit: the new seeds and the mart they build, or the last good ones.

A run publishes by replacing the seed files (``customer_segments``, ``segment_definitions``,
``segment_model_parameters``) and running one ``dbt build`` of them and everything downstream,
tests included. ``dbt build`` replaces ``fct_customer_segments`` (and the SQL scores it reads)
before it tests them, so a test failing on the new mart would otherwise leave the failed version
in place. :func:`kept_for_rollback` therefore keeps both what the files held and what the tables
held, and puts both back together when anything fails: a seed test, a mart test, the engine, or
an interruption.

The tables are kept as plain copies named ``<table>__custseg_last_good`` beside the originals.
Copying, not renaming, keeps the mart readable throughout on a server engine; it costs about 1 s
for a million customers on DuckDB. A run killed in between leaves a copy behind, which the next
run replaces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from custseg.dbt.runner import DbtInvocation, DbtNodeResult, run_dbt
from custseg.errors import DbtError, PublishError
from custseg.publish.atomic import write_bytes_atomic
from custseg.warehouses import Warehouse

#: Tables a run publishes through dbt, kept as a set: the mart and the SQL scores it reads.
PUBLISHED_TABLES = ("fct_customer_segments", "customer_segment_scores")
LAST_GOOD_SUFFIX = "__custseg_last_good"


def publish_seeds(
    warehouse: Warehouse, invocation: DbtInvocation, files: Mapping[Path, bytes]
) -> list[DbtNodeResult]:
    """Replace the seed files and build them and everything downstream, with tests.

    On any failure the previous seed files and the last good published tables are put back
    (see :func:`kept_for_rollback`); ``fct_customer_segments`` is not rebuilt when a test of a
    seed fails.

    Raises
    ------
    PublishError
        dbt failed (a test, a model, the engine); the message names what failed and what was
        restored.
    """
    with kept_for_rollback(warehouse, invocation, list(files)):
        for path, data in files.items():
            write_bytes_atomic(path, data)
        selectors = [f"{path.stem}+" for path in files]
        return run_dbt(invocation, "build", "--select", *selectors)


@contextlib.contextmanager
def kept_for_rollback(
    warehouse: Warehouse,
    invocation: DbtInvocation,
    seed_files: Sequence[Path],
    tables: Sequence[str] = PUBLISHED_TABLES,
) -> Iterator[None]:
    """Keep the seed files and the published tables; on an exception put both back, re-raise.

    Tables that do not exist yet (a first run) are not kept: a failed first run has no last good
    mart to return to. A dbt failure is re-raised as a :class:`PublishError` saying what was put
    back; if the engine itself is gone, the error gets a note naming the kept copies.
    """
    previous = {path: path.read_bytes() if path.exists() else None for path in seed_files}
    kept = [name for name in tables if warehouse.table_exists(name)]
    for name in kept:
        warehouse.copy_table(name, name + LAST_GOOD_SUFFIX)
    try:
        yield
    except BaseException as error:
        restored = _restore_files(previous)
        if not isinstance(error, DbtError):
            _restore_tables(warehouse, kept, error)
            raise
        note = _reload_seeds(invocation, restored)
        failure = PublishError(
            f"The new segments were not published: {error}\n{note}; the model, metrics and "
            "fct_customer_segments keep their last good contents."
        )
        _restore_tables(warehouse, kept, failure)
        raise failure from error
    for name in kept:
        warehouse.drop_table(name + LAST_GOOD_SUFFIX)


def _restore_files(previous: Mapping[Path, bytes | None]) -> list[Path]:
    restored = []
    for path, data in previous.items():
        if data is not None:
            write_bytes_atomic(path, data)
            restored.append(path)
    return restored


def _reload_seeds(invocation: DbtInvocation, restored: Sequence[Path]) -> str:
    """Load the restored seed files back into the warehouse; say what was done."""
    if not restored:
        return "no previous seeds existed"
    note = f"the previous {', '.join(path.name for path in restored)} were restored"
    try:
        run_dbt(invocation, "seed", "--select", *(path.stem for path in restored))
    except DbtError as reload_error:
        note += f" but reloading them failed ({reload_error})"
    return note


def _restore_tables(warehouse: Warehouse, kept: Sequence[str], error: BaseException) -> None:
    try:
        for name in kept:
            warehouse.replace_table(name, name + LAST_GOOD_SUFFIX)
    except Exception as restore_error:  # the engine may be what failed
        copies = ", ".join(name + LAST_GOOD_SUFFIX for name in kept)
        error.add_note(
            f"The last good tables could not be put back ({restore_error}); they are kept "
            f"as {copies}. The next successful run replaces them."
        )
