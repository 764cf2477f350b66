"""The exploration notebook: committed without outputs, and executed end to end."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.support import REPO_ROOT, copy_project

NOTEBOOK = Path("ml_pipeline") / "notebooks" / "customer_segmentation.ipynb"
KERNEL_NAME = "custseg-test-python"


def test_committed_notebook_has_no_outputs_or_execution_counts() -> None:
    document = json.loads((REPO_ROOT / NOTEBOOK).read_text(encoding="utf-8"))
    dirty = [
        cell.get("id", str(index))
        for index, cell in enumerate(document["cells"])
        if cell["cell_type"] == "code"
        and (
            cell["outputs"]
            or cell["execution_count"] is not None
            or "execution" in cell["metadata"]
        )
    ]
    assert not dirty, (
        f"{NOTEBOOK} is committed with outputs or execution counts in cells {dirty}: clear all "
        "outputs (Jupyter: Edit > Clear Outputs of All Cells) and save before committing."
    )
    nbformat.validate(nbformat.reads(json.dumps(document), as_version=4))


def _kernelspec(folder: Path) -> Path:
    """A kernelspec that starts this interpreter (the venv's), whatever else is installed."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "custseg test kernel",
                "language": "python",
            }
        )
    )
    return folder


def test_notebook_runs_end_to_end_without_touching_the_project(tmp_path: Path, monkeypatch) -> None:
    project = copy_project(tmp_path / "project")
    notebook_dir = project / NOTEBOOK.parent
    notebook_dir.mkdir(parents=True)
    shutil.copy(REPO_ROOT / NOTEBOOK, notebook_dir)
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path / "jupyter")))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    # The kernel would otherwise start inline matplotlib with the user's settings.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(notebook_dir / NOTEBOOK.name, as_version=4)

    NotebookClient(
        notebook,
        timeout=300,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(notebook_dir)}},
    ).execute()

    outputs = "\n".join(
        str(output.get("text", "")) + str(output.get("data", {}).get("text/markdown", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "2,000 customers with an order, as of 2020-01-01" in outputs
    assert "chosen k: 6" in outputs
    assert "Hibernating / Lost" in outputs
    assert "| Champions (VIPs) | highest mean orders" in outputs
    assert (
        sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
        == 3
    )
    # The notebook worked on its own temporary copy, then deleted it; the project is untouched.
    work = Path(re.search(r"working copy: (\S+)", outputs).group(1))
    assert not work.exists()
    assert not (project / "dbt_pipeline" / "target").exists()
    assert not list((project / "dbt_pipeline").glob("*.duckdb"))
