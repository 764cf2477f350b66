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
4. runs ``dbt docs generate`` and writes ``dbt_pipeline/target/static_index.html``, a single
   self-contained page that opens from ``file://`` with no network: dbt's page with the
   manifest and catalog inlined, as ``--static`` writes it, with one repair (below).

dbt's docs page writes each seed's "Example SQL" as ``select ... from
<database>.<schema>.<identifier>``, but a seed node has no ``identifier`` (only sources do),
so every seed's example read ``from docs.main.undefined`` (dbt-labs/dbt-docs#407). The page
built here gives each seed node the identifier of the relation it builds (its ``alias``),
in the page's copy of the manifest only: ``manifest.json`` stays as dbt wrote it.

The project's front page is the ``__overview__`` docs block of
``dbt_pipeline/models/overview.md``.

Run it with ``python -m custseg.dbt.docs [--project-dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import CustsegError, DbtError
from custseg.sample import generate_sample_data
from custseg.settings import Settings, find_project_root
from custseg.warehouses import open_warehouse

#: Folder under dbt_pipeline/target/ that holds the throwaway sample and warehouse.
DOCS_BUILD_FOLDER = "docs_build"
#: Customers in the generated sample: enough for every model to hold rows, and quick.
DOCS_SAMPLE_CUSTOMERS = 50
STATIC_INDEX = "static_index.html"
#: What dbt's docs page holds in place of the manifest and catalog until they are inlined.
INLINE_PLACEHOLDERS = {
    "manifest.json": '"MANIFEST.JSON INLINE DATA"',
    "catalog.json": '"CATALOG.JSON INLINE DATA"',
}


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
        run_dbt(invocation, "docs generate")
    return write_static_index(dbt_dir / "target")


def write_static_index(target: Path) -> Path:
    """Write ``target/static_index.html`` from what ``dbt docs generate`` left in ``target``.

    dbt's ``index.html`` with ``manifest.json`` (every seed given its identifier, see the
    module docstring) and ``catalog.json`` inlined, as ``--static`` inlines them. A ``</``
    in the JSON is written ``<\\/`` (the same JSON), so no text can end the page's script.

    Raises
    ------
    DbtError
        When dbt's page no longer holds exactly one of each placeholder.
    """
    page = (target / "index.html").read_text(encoding="utf-8")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    payloads = {
        "manifest.json": with_seed_identifiers(manifest),
        "catalog.json": json.loads((target / "catalog.json").read_text(encoding="utf-8")),
    }
    for name, placeholder in INLINE_PLACEHOLDERS.items():
        if page.count(placeholder) != 1:
            raise DbtError(
                f"dbt's docs page {target / 'index.html'} does not hold {placeholder} once: "
                "this dbt release inlines the docs differently; run `dbt docs generate "
                "--static` in dbt_pipeline/ instead."
            )
        text = json.dumps(payloads[name], ensure_ascii=False).replace("</", "<\\/")
        page = page.replace(placeholder, text)
    path = target / STATIC_INDEX
    path.write_text(page, encoding="utf-8")
    return path


def with_seed_identifiers(manifest: dict) -> dict:
    """``manifest`` with an ``identifier`` on every seed node that lacks one: its ``alias``,
    the name of the table the seed builds, which the docs page's example SQL reads."""
    nodes = {
        uid: node | {"identifier": node["alias"]}
        if node.get("resource_type") == "seed" and not node.get("identifier")
        else node
        for uid, node in manifest.get("nodes", {}).items()
    }
    return manifest | {"nodes": nodes}


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
