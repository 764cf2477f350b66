"""The warehouse a command works on: locked, checked against dbt's profile, repaired first.

Every command of :mod:`custseg.pipeline` opens its warehouse here. :func:`opened` takes the
locks that keep other runs off the warehouse and off the project; :func:`prepared` also checks,
before anything is loaded, every folder the command writes and the warehouse a run built, and
finishes or rolls back a publication a killed run left half done
(:func:`repair_interrupted_publication`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from custseg.dbt.profiles import check_profile
from custseg.model.fitting import Progress
from custseg.publish.journal import recover
from custseg.publish.locking import exclusive_run_lock
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.settings import Settings
from custseg.warehouses import Warehouse, open_warehouse


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Warehouse]:
    """The run's warehouse, with the locks that keep other runs off it and off the project.

    Before anything is loaded: dbt's profile must name the same warehouse (a user's
    profiles.yml).
    """
    with open_warehouse(settings) as warehouse:
        check_profile(settings, warehouse.dbt_env())
        with (
            exclusive_run_lock(warehouse.lock_path, warehouse.lock_alternative),
            exclusive_run_lock(settings.layout.lock_path, what="project"),
        ):
            yield warehouse


@contextlib.contextmanager
def prepared(
    settings: Settings, progress: Progress, *, reads_run: bool, publishing: bool = True
) -> Iterator[Warehouse]:
    """The warehouse of a command, once every folder it writes (the seeds' only when
    ``publishing``) is checked, the warehouse a run built found (``reads_run``: a missing
    DuckDB file would be created empty) and a half-done publication repaired."""
    check_writable(settings, publishing=publishing)
    if reads_run:
        require_built_warehouse(settings)
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        yield warehouse


def repair_interrupted_publication(
    settings: Settings, warehouse: Warehouse, progress: Progress
) -> list[str]:
    """Roll back or complete a publication a killed run left half done (see
    :func:`custseg.publish.journal.recover`); say what was found, as a one-item list."""
    found = recover(settings.layout.journal_path, settings.layout.root, warehouse)
    if found is None:
        return []
    progress(found)
    return [found]
