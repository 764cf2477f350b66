"""Publishing is one unit: every published file and table is the previous one or the new one.

A run publishes by replacing the seed files (``customer_segments``, ``segment_definitions``,
``segment_model_parameters``), running one ``dbt build`` of them and everything downstream, tests
included, and then writing the segments CSV, the model, its metrics, the k evidence and the report.
:func:`publication` wraps all of it in a journal (:mod:`custseg.publish.journal`):

- before anything changes, the previous files and tables are kept (hard links and table copies);
- the seeds are replaced and built; the other outputs are staged beside their final names;
- one atomic rename of the journal commits; the staged files are then renamed into place.

Anything that goes wrong before the commit (a dbt test failing on the new seeds or on the new mart
itself, the engine going away, a full disk, an unwritable file, Ctrl-C or SIGTERM) puts every
previous file and table back. A kill -9 or a power cut leaves the journal, and the next custseg
command finishes the job (:func:`custseg.publish.journal.recover`) before doing anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from custseg.errors import DbtError, PublishError, first_line
from custseg.publish.atomic import write_bytes_atomic
from custseg.publish.journal import (
    LAST_GOOD_SUFFIX,
    Journal,
    JournalFile,
    JournalWriter,
    complete,
    keep_previous_file,
    relative_name,
    roll_back,
    staged_path,
)
from custseg.settings import ProjectLayout
from custseg.warehouses import Warehouse

#: The warehouse history (incremental tables, models/history/) and the models dbt rebuilds
#: from it, in the order it builds them.
HISTORY_TABLES = (
    "segment_runs",
    "segment_memberships",
    "fct_segment_transitions",
    "fct_segment_mix_projection",
    "fct_feature_drift",
    "fct_segment_drift",
)
#: What ``custseg moves`` publishes through dbt: the move model's seed and the at-risk list scored
#: from it. Runs and backfills rebuild the list too (it scores the history's latest as-of date),
#: loading the seed again from its unchanged file so that it exists.
MOVE_TABLES = ("move_model_terms", "fct_at_risk_candidates")

#: Tables a run publishes through dbt: the seeds, the SQL scores, the mart, the history and the
#: at-risk list (a failed publication puts back the history as it was, rows of the run's as-of
#: date included).
PUBLISHED_TABLES = (
    "customer_segments",
    "segment_definitions",
    "segment_model_parameters",
    "segment_feature_bins",
    "customer_segment_scores",
    "fct_customer_segments",
    *HISTORY_TABLES,
    *MOVE_TABLES,
)

#: What a failed or interrupted publication says once everything previous is back.
PUT_BACK = "The previous seeds, tables, model, metrics and report were put back."

__all__ = [
    "HISTORY_TABLES",
    "LAST_GOOD_SUFFIX",
    "MOVE_TABLES",
    "PUBLISHED_TABLES",
    "Publication",
    "publication",
]


class Publication:
    """The files of a publication in progress (see :func:`publication`)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = {Path(path) for path in paths}
        self.removed: set[Path] = set()

    def replace_now(self, path: Path, data: bytes) -> None:
        """Write ``data`` into ``path`` at once (the seeds dbt is about to build)."""
        write_bytes_atomic(self._listed(path), data)

    def stage(self, path: Path, data: bytes | None) -> None:
        """Write ``data`` for ``path`` at the commit; None removes the file at the commit."""
        path = self._listed(path)
        if data is None:
            self.removed.add(path)
        else:
            self.removed.discard(path)
            write_bytes_atomic(staged_path(path), data)

    def _listed(self, path: Path) -> Path:
        path = Path(path)
        if path not in self._paths:
            raise ValueError(f"{path} is not a file of this publication")
        return path


@contextlib.contextmanager
def publication(
    layout: ProjectLayout,
    warehouse: Warehouse,
    paths: Sequence[Path],
    tables: Sequence[str] = PUBLISHED_TABLES,
) -> Iterator[Publication]:
    """Publish ``paths`` (files) and ``tables`` (built by dbt inside the block) as one unit.

    The block replaces seeds with :meth:`Publication.replace_now`, builds the tables, and stages
    every other file with :meth:`Publication.stage`. Leaving the block commits; an exception puts
    every previous file and table back and is re-raised (a dbt failure as a
    :class:`PublishError` saying so). Tables that did not exist before (a first run) are dropped
    then: a failed first run has nothing to return to.

    Raises
    ------
    PublishError
        dbt failed (a test, a model, the engine); the message names what failed.
    """
    root = layout.root
    writer = JournalWriter(
        layout.journal_path,
        root,
        Journal(
            state="preparing",
            warehouse=warehouse.describe(),
            files=tuple(
                JournalFile(relative_name(path, root), existed=Path(path).exists())
                for path in paths
            ),
            tables=tuple(tables),
        ),
    )
    writer.advance("preparing")
    files = Publication(paths)
    try:
        for path in paths:
            if Path(path).exists():
                keep_previous_file(Path(path))
        existing = warehouse.existing_tables(tables)
        kept = tuple(name for name in tables if name in existing)
        for name in kept:
            warehouse.copy_table(name, name + LAST_GOOD_SUFFIX)
        writer.advance("publishing", kept=kept)
        yield files
        removed = {relative_name(path, root) for path in files.removed}
        writer.advance(
            "committed",
            files=tuple(
                JournalFile(item.path, item.existed, remove=item.path in removed)
                for item in writer.journal.files
            ),
        )
    except BaseException as error:
        if writer.journal.state == "committed":
            raise
        failed_rollback = _roll_back(writer, warehouse)
        if isinstance(error, DbtError):
            failure = PublishError(f"The new segments were not published: {error}")
            failure.add_note(failed_rollback or PUT_BACK)
            raise failure from error
        error.add_note(failed_rollback or PUT_BACK)
        raise
    try:
        complete(writer, warehouse)
    except BaseException as error:
        error.add_note(
            "The new segments are published (the publication had committed), but its last "
            f"steps failed; the next custseg command completes them ({layout.journal_path})."
        )
        raise


def _roll_back(writer: JournalWriter, warehouse: Warehouse) -> str | None:
    """Put the previous publication back; None, or what to say when that failed too."""
    try:
        roll_back(writer, warehouse)
    except Exception as rollback_error:  # the engine or the disk may be what failed
        return (
            f"Putting the previous publication back failed too ({first_line(rollback_error)}). "
            f"Its journal {writer.path} is kept: the next custseg command (or `custseg "
            "recover`) puts it back before doing anything else."
        )
    return None
