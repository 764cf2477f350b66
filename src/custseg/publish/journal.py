"""The publication journal: what a run is changing, so any interruption can be repaired.

A publication changes files (the seeds, the segments CSV, the model, its metrics, the k
evidence, the report) and warehouse tables (the three seed tables, the SQL scores, the mart).
No file system or warehouse changes all of those at once, so custseg keeps a journal, as
databases keep a write-ahead log:

``preparing``
    The journal lists every file and table the run will touch. The previous files are kept as
    ``.<name>.custseg-old`` beside themselves (a hard link, or a copy where links are not
    allowed) and the previous tables as ``<table>__custseg_last_good``. Nothing published has
    changed yet.
``publishing``
    Written once every previous file and table is kept. From here on the seeds are replaced,
    dbt builds the tables, and the new outputs are staged as ``.<name>.custseg-new``.
``committed``
    The one atomic switch: one ``os.replace`` of the journal file. Everything new is complete
    and staged; what remains is renaming the staged files into place and dropping the copies.

:func:`recover` reads the journal left by a run that died (kill -9, power cut, full disk, a
database gone) and makes the published state whole again before anything else happens: before
``committed`` it puts every previous file and table back, after it completes the renames. Every
step is idempotent, so a recovery that is itself interrupted is simply run again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from custseg.errors import ConfigError
from custseg.publish.atomic import fsync_directory, write_bytes_atomic
from custseg.warehouses import Warehouse

FORMAT = 1
#: A previous table kept while a run publishes is named ``<table>`` + this suffix.
LAST_GOOD_SUFFIX = "__custseg_last_good"
STATES = ("preparing", "publishing", "committed")


def kept_path(path: Path) -> Path:
    """Where the previous version of a published file is kept during a publication."""
    return path.with_name(f".{path.name}.custseg-old")


def staged_path(path: Path) -> Path:
    """Where the new version of a published file waits for the commit."""
    return path.with_name(f".{path.name}.custseg-new")


@dataclass(frozen=True)
class JournalFile:
    """One published file of a publication."""

    # Relative to the project root (absolute when the file lies outside it).
    path: str
    # Whether the file existed before the run (its previous version is then kept).
    existed: bool
    # Whether the publication removes the file (a report that could not be drawn).
    remove: bool = False


@dataclass(frozen=True)
class Journal:
    """What a publication touches, and how far it got."""

    state: str
    # Where the tables live (Warehouse.describe()): recovery must run against the same one.
    warehouse: str
    files: tuple[JournalFile, ...]
    # Tables published by dbt; those in ``kept`` existed before and have a last good copy.
    tables: tuple[str, ...]
    kept: tuple[str, ...] = field(default=())

    def to_json(self) -> bytes:
        payload = {
            "format": FORMAT,
            "state": self.state,
            "warehouse": self.warehouse,
            "files": [vars(item) for item in self.files],
            "tables": list(self.tables),
            "kept": list(self.kept),
        }
        return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def read(cls, path: Path) -> Journal:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("format") != FORMAT or payload.get("state") not in STATES:
                raise ValueError(f"unknown format or state {payload.get('state')!r}")
            return cls(
                state=payload["state"],
                warehouse=payload["warehouse"],
                files=tuple(JournalFile(**item) for item in payload["files"]),
                tables=tuple(payload["tables"]),
                kept=tuple(payload["kept"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            # The journal is replaced atomically, so this is a hand edit or another version.
            raise ConfigError(
                f"{path}: the publication journal cannot be read ({error}). Compare the "
                "published files with their .custseg-old copies beside them, keep the set you "
                "trust, then delete this file."
            ) from error


class JournalWriter:
    """Writes the journal of the publication in progress, one atomic replace per state."""

    def __init__(self, path: Path, root: Path, journal: Journal) -> None:
        self.path = path
        self.root = root
        self.journal = journal

    def advance(self, state: str, **changes: object) -> None:
        journal = replace(self.journal, state=state, **changes)
        write_bytes_atomic(self.path, journal.to_json())
        self.journal = journal

    def finish(self) -> None:
        """Forget the journal (the publication is complete or rolled back)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fsync_directory(self.path.parent)


def relative_name(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def keep_previous_file(path: Path) -> None:
    """Keep ``path``'s current content as :func:`kept_path` (a hard link: no copy, no space)."""
    kept = kept_path(path)
    with contextlib.suppress(FileNotFoundError):
        kept.unlink()
    try:
        os.link(path, kept)
    except OSError:  # a file system without hard links, or one that forbids them
        shutil.copy2(path, kept)
    fsync_directory(path.parent)


def recover(journal_path: Path, root: Path, warehouse: Warehouse) -> str | None:
    """Repair what an interrupted publication left; return what was found and done.

    Returns None when there was nothing to repair.

    Raises
    ------
    ConfigError
        The journal names another warehouse than the one this command opened (its tables can
        only be repaired there), or cannot be read.
    """
    _remove_unfinished_writes(journal_path)  # a kill while the first state was written
    if not journal_path.exists():
        return None
    journal = Journal.read(journal_path)
    if journal.warehouse != warehouse.describe():
        raise ConfigError(
            f"A publication into {journal.warehouse} was interrupted ({journal_path}); it must "
            f"be repaired there first, and this command opened {warehouse.describe()}. Run "
            "`custseg recover` with the --target and warehouse options that run used."
        )
    writer = JournalWriter(journal_path, root, journal)
    if journal.state == "committed":
        complete(writer, warehouse)
        return (
            "Found a publication that was interrupted after it committed: its last steps were "
            "completed, and the new segments are published."
        )
    roll_back(writer, warehouse)
    if journal.state == "preparing":
        return (
            "Found a run that was interrupted before it published anything: its leftovers were "
            "removed; the published segments are unchanged."
        )
    return (
        "Found a publication that was interrupted before it committed: the previous seeds, "
        "tables, model, metrics and report were put back."
    )


def roll_back(writer: JournalWriter, warehouse: Warehouse) -> None:
    """Put every previous file and table back; drop what the publication created."""
    journal = writer.journal
    for item in journal.files:
        path = _absolute(item.path, writer.root)
        _remove_unfinished_writes(path)
        with contextlib.suppress(FileNotFoundError):
            staged_path(path).unlink()
        if journal.state == "preparing":
            # Nothing was replaced yet; the kept copies may be incomplete.
            with contextlib.suppress(FileNotFoundError):
                kept_path(path).unlink()
        elif item.existed:
            # The kept copy only disappears by being renamed back: then it is already restored.
            with contextlib.suppress(FileNotFoundError):
                _put_back(kept_path(path), path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        fsync_directory(path.parent)
    if journal.state == "preparing":
        for name in journal.tables:
            warehouse.drop_table(name + LAST_GOOD_SUFFIX)
    else:
        restore_tables(warehouse, journal.tables, journal.kept)
    writer.finish()


def complete(writer: JournalWriter, warehouse: Warehouse) -> None:
    """Finish a committed publication: staged files into place, previous copies dropped."""
    for item in writer.journal.files:
        path = _absolute(item.path, writer.root)
        _remove_unfinished_writes(path)
        if item.remove:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            # A staged file disappears by being renamed into place: then it is already there.
            with contextlib.suppress(FileNotFoundError):
                os.replace(staged_path(path), path)
        with contextlib.suppress(FileNotFoundError):
            kept_path(path).unlink()
        fsync_directory(path.parent)
    for name in writer.journal.kept:
        warehouse.drop_table(name + LAST_GOOD_SUFFIX)
    writer.finish()


def restore_tables(warehouse: Warehouse, tables: Sequence[str], kept: Sequence[str]) -> None:
    """Give every kept table its last good copy back and drop the tables that are new, in one
    transaction where the engine has them.

    A kept table whose copy is gone was restored already (by a recovery that was interrupted
    afterwards), so this may run any number of times.
    """
    statements = []
    for name in tables:
        if name not in kept:
            statements.append(f"drop table if exists {warehouse.relation(name)}")
        elif warehouse.table_exists(name + LAST_GOOD_SUFFIX):
            statements += warehouse.replace_table_statements(name, name + LAST_GOOD_SUFFIX)
    if statements:
        warehouse.execute(*statements)


def _remove_unfinished_writes(path: Path) -> None:
    """Remove the temporary files of atomic writes of ``path`` (or of the staged or kept file
    beside it) that a kill interrupted before their rename (see write_bytes_atomic)."""
    for name in (path.name, staged_path(path).name, kept_path(path).name):
        for unfinished in path.parent.glob(f".{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                unfinished.unlink()


def _put_back(kept: Path, path: Path) -> None:
    # A file the run never replaced is still the kept copy's own inode, and renaming a hard
    # link onto another link of the same file does nothing (POSIX rename): drop the link.
    if path.exists() and os.path.samefile(kept, path):
        kept.unlink()
    else:
        os.replace(kept, path)


def _absolute(name: str, root: Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else root / path
