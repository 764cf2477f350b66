"""Header-only placeholders for the published seeds, so dbt can parse a fresh project.

The seeds a run publishes (``customer_segments``, ``segment_definitions``,
``segment_model_parameters``) hold customer data, so they live in a git-ignored folder,
``dbt_pipeline/seeds/published/``, and a fresh clone has none. dbt refuses to parse a project
whose models ``ref()`` a seed without a file, so before every dbt invocation custseg makes
(:func:`custseg.dbt.runner.run_dbt`) the missing ones are written header-only, from the headers
of :mod:`custseg.settings.published_seeds`. A file that exists is never touched: it is the last
published seed, or a placeholder already.

Anyone running dbt by hand (``dbt build``, sqlfluff's dbt templater) on a fresh project runs
first::

    python -m custseg.dbt.placeholders [--project-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import tempfile
from pathlib import Path

from custseg.errors import CustsegError, storage_error
from custseg.settings import (
    ProjectLayout,
    find_project_root,
    header_line,
    published_seed_paths,
)


def ensure_seed_placeholders(dbt_project_dir: Path) -> list[Path]:
    """Write a header-only file for every published seed of ``dbt_project_dir`` that is missing.

    Each file appears whole or not at all (written beside its name, then linked into place),
    and an existing file, or one another process creates meanwhile, is never overwritten.

    Parameters
    ----------
    dbt_project_dir
        The dbt project (the folder holding ``dbt_project.yml``).

    Returns
    -------
    list of Path
        The placeholders written (none when every seed exists).

    Raises
    ------
    StorageError
        The seeds' folder cannot be created or written (permissions, a full disk).
    """
    written = []
    for name, path in published_seed_paths(dbt_project_dir).items():
        if path.exists():
            continue
        try:
            if _create_new(path, header_line(name)):
                written.append(path)
        except OSError as exc:
            error = storage_error(exc, path)
            if error is None:
                raise
            raise error from exc
    return written


def _create_new(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp's files are private; seeds are project files
        try:
            # A hard link fails if the name exists, where a rename would replace it.
            os.link(temp_name, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            # A file system without hard links: rename, after a last look at the name.
            if path.exists():
                return False
            os.replace(temp_name, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m custseg.dbt.placeholders",
        description="Write a header-only file for each published seed missing from "
        "dbt_pipeline/seeds/published/, so dbt (or sqlfluff's dbt templater) can parse a fresh "
        "project. Existing seeds are left as they are.",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="Folder holding dbt_pipeline/ (default: found from the current folder).",
    )
    args = parser.parse_args(argv)
    try:
        root = find_project_root(args.project_dir or Path.cwd())
        written = ensure_seed_placeholders(ProjectLayout(root).dbt_project_dir)
    except CustsegError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    for path in written:
        print(f"Placeholder: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
