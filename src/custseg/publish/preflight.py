"""Before a command touches anything: every folder it will write can be written, and what it
reads exists.

A run writes the seeds (``dbt_pipeline/seeds/published``), dbt's ``target/`` and ``logs/``
folders, the outputs (``ml_pipeline/models``) and, on DuckDB, the database file's folder. A
folder that cannot be written would otherwise stop the run half-way (after the raw tables
were replaced) with the operating system's traceback; checked first, it stops the run before
anything is loaded, with a :class:`~custseg.errors.StorageError` naming the folder.

The check creates and deletes an empty file in each folder (or in its nearest existing
parent, where the run would create it): permissions, read-only file systems and ACLs are then
seen the way the run would see them, which ``os.access`` does not promise (and root passes
it anyway). A full disk is not predicted: an empty file may still fit.
"""

from __future__ import annotations

import array
import fcntl
import sys
import tempfile
from pathlib import Path

from custseg.errors import ConfigError, StorageError, storage_error
from custseg.settings import Settings


def check_writable(settings: Settings, *, publishing: bool = True) -> None:
    """Check every folder a command writes (the seeds only when ``publishing``).

    Raises
    ------
    StorageError
        A folder (or the parent it would be created in) cannot be written, a file stands where
        a folder is expected, or a folder where an output file is expected.
    """
    layout = settings.layout
    folders = [layout.dbt_project_dir / "target", layout.dbt_project_dir / "logs"]
    files = [layout.model_path, layout.metrics_path, layout.k_selection_path]
    if publishing:
        folders.append(layout.published_seeds_dir)
        files += [
            layout.segments_seed_path,
            layout.definitions_seed_path,
            layout.parameters_seed_path,
            layout.segments_path,
            layout.report_path,
        ]
    folders.append(layout.output_dir)
    if settings.target == "duckdb" and settings.duckdb_path is not None:
        folders.append(settings.duckdb_path.parent)
    for folder in folders:
        _check_folder(folder)
    for path in files:
        if path.is_dir():
            raise StorageError(
                f"Cannot write {path}: it is a folder where custseg writes a file. Move it "
                "away, then run again. Nothing was loaded or published."
            )
        if _is_immutable(path):
            raise StorageError(
                f"Cannot write {path}: it is marked immutable or append-only (chattr +i/+a), "
                "so not even its owner can replace it. Clear the mark (chattr -i -a), then run "
                "again. Nothing was loaded or published."
            )


#: Linux's FS_IOC_GETFLAGS ioctl and its immutable and append-only flags. A read-only file is
#: no fault (outputs are replaced by a rename, which needs the folder writable, not the
#: file); these two flags refuse the rename, even to root.
_GET_FLAGS, _IMMUTABLE, _APPEND_ONLY = 0x80086601, 0x10, 0x20


def _is_immutable(path: Path) -> bool:
    if sys.platform != "linux" or not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            flags = array.array("l", [0])
            fcntl.ioctl(handle.fileno(), _GET_FLAGS, flags, True)
    except OSError:  # a file system without these flags
        return False
    return bool(flags[0] & (_IMMUTABLE | _APPEND_ONLY))


def _check_folder(folder: Path) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StorageError(
            f"Cannot write {folder}: {existing} is a file where custseg needs a folder. Move it "
            "away, then run again. Nothing was loaded or published."
        )
    try:
        with tempfile.TemporaryFile(prefix=".custseg-write-check-", dir=existing):
            pass
    except OSError as exc:
        error = storage_error(exc, existing if existing == folder else f"{folder} (in {existing})")
        if error is None:
            raise
        raise StorageError(f"{error} Nothing was loaded or published.") from exc


def require_built_warehouse(settings: Settings) -> None:
    """A command that reads what a run built (the features) needs the DuckDB file that run
    wrote: opening a missing one would create an empty file and fail on a missing table."""
    path = settings.duckdb_path
    if settings.target == "duckdb" and not (path and path.is_file()):
        raise ConfigError(
            f"No DuckDB warehouse at {path}: pass --data-dir to build the features, or the "
            "--duckdb-path a `custseg run` used."
        )
