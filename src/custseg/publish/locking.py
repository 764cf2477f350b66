"""One custseg run at a time per warehouse file.

DuckDB allows a single writing process per file; two runs publishing into the same project would
also race on the seed CSV. A run therefore takes an exclusive, non-blocking lock on
``<warehouse>.lock`` and records who holds it, so a second run stops with a message naming the
holder instead of failing half-way. A run also locks its project
(``custseg.settings.ProjectLayout.lock_path``): two runs into one project with different DuckDB
files would still overwrite each other's seeds, dbt ``target/`` folder and outputs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from custseg.errors import LockError, storage_error


@contextlib.contextmanager
def exclusive_run_lock(
    lock_path: Path, alternative: str = "", what: str = "warehouse"
) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the duration of the block.

    ``alternative`` completes the error message with what else the user can do; ``what`` names
    what the lock protects ("warehouse", "project").

    Raises
    ------
    LockError
        When another process holds the lock; the message names it (pid and host).
    StorageError
        The lock file cannot be created (read-only folder, disk full).
    """
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    except OSError as exc:
        error = storage_error(exc, lock_path, doing="create the lock file")
        if error is None:
            raise
        raise error from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "an unknown process"
            raise LockError(
                f"{lock_path}: another custseg run holds this {what} ({holder}). "
                f"Wait for it to finish{alternative}."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
