"""Build the dbt documentation offline, on a throwaway DuckDB warehouse (``make docs``).

``dbt docs generate`` needs a warehouse connection, and its catalog lists only relations that
exist. So that the documentation shows every column with its type on a fresh clone, before any
``custseg run``, and never touches a user's warehouse, the build:

1. generates a tiny sample dataset (:mod:`custseg.sample`) under
   ``dbt_pipeline/target/docs_build/``;
2. loads it into a new DuckDB file there (``docs_build/docs.duckdb``, deleted first), with the
   same loader as ``custseg run``;
3. builds the seeds (header-only placeholders on a fresh clone, :mod:`custseg.dbt.placeholders`;
   a project's published seeds otherwise) and every model, without tests;
4. runs ``dbt docs generate --static``, which writes ``dbt_pipeline/target/static_index.html``,
   a single self-contained page that opens from ``file://`` with no network.

Run it with ``python -m custseg.dbt.docs [--project-dir DIR]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import CustsegError
from custseg.sample import generate_sample_data
from custseg.settings import Settings, find_project_root
from custseg.warehouses import open_warehouse

#: Folder under dbt_pipeline/target/ that holds the throwaway sample and warehouse.
DOCS_BUILD_FOLDER = "docs_build"
#: Customers in the generated sample: enough for every model to hold rows, and quick.
DOCS_SAMPLE_CUSTOMERS = 50
STATIC_INDEX = "static_index.html"


def build_docs(project_root: Path) -> Path:
    """Build the documentation of ``project_root/dbt_pipeline`` and return ``static_index.html``.

    Parameters
    ----------
    project_root
        The folder holding ``dbt_pipeline/``.

    Raises
    ------
    DbtError
        When dbt cannot build a model or generate the documentation.
    """
    settings = Settings(project_dir=project_root)
    dbt_dir = settings.dbt_project_dir
    work = dbt_dir / "target" / DOCS_BUILD_FOLDER
    shutil.rmtree(work, ignore_errors=True)
    sample_dir = work / "sample_data"
    generate_sample_data(sample_dir, n_customers=DOCS_SAMPLE_CUSTOMERS, seed=0)
    settings = Settings(
        data_dir=sample_dir, project_dir=project_root, duckdb_path=work / "docs.duckdb"
    )
    with open_warehouse(settings) as warehouse:
        warehouse.load_raw(sample_dir)
        invocation = invocation_for(settings, warehouse)
        run_dbt(invocation, "build", "--resource-type", "seed", "--resource-type", "model")
        run_dbt(invocation, "docs generate", "--static")
    return dbt_dir / "target" / STATIC_INDEX


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m custseg.dbt.docs",
        description="Build the dbt documentation offline into "
        "dbt_pipeline/target/static_index.html, on a throwaway DuckDB file.",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="Folder holding dbt_pipeline/ (default: found from the current folder).",
    )
    args = parser.parse_args(argv)
    try:
        path = build_docs(find_project_root(args.project_dir or Path.cwd()))
    except CustsegError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"Documentation: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
