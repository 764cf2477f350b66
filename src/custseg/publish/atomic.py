"""Atomic file replacement: readers see the old file or the new one, never a partial one."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from custseg.errors import storage_error
from custseg.model.model_file import canonical_json


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and :func:`os.replace`.

    A process killed at any point leaves either the previous file or the complete new one.
    The parent folder is created when missing.

    Raises
    ------
    StorageError
        The disk is full, or the folder (or the file) cannot be written; ``path`` keeps its
        previous contents.
    """
    path = Path(path)
    try:
        _write(path, data)
    except OSError as exc:
        error = storage_error(exc, path)
        if error is None:
            raise
        raise error from exc


def _write(path: Path, data: bytes) -> None:
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():  # mkdir would only say "file exists"
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(folder))
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file private (0600); outputs are ordinary project files.
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_directory(path.parent)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as canonical JSON (sorted keys, fixed indentation) atomically."""
    write_bytes_atomic(path, canonical_json(payload).encode("utf-8"))


def fsync_directory(directory: Path) -> None:
    """Persist the rename itself where the platform allows it (POSIX); best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
