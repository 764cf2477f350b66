"""The wheel: what it ships, and a project laid out and run from it outside the repository.

The wheel is built once per session from the repository's files (tracked, or new and not
ignored), as `pip wheel` builds it for PyPI. The install test (marker ``wheel``; deselect with
``-m "not wheel"``) puts it into a fresh virtual environment in a temporary folder and runs the
console script there, in a folder outside the repository, with no PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, shipped_dbt_files, tracked_files

PACKAGE_DATA = "custseg/dbt_project/"
PROJECT_FILES = "custseg/project_files/"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """custseg's wheel, built by pip from a copy of the repository's files (so no stale
    ``build/`` folder of the working tree can slip into it)."""
    source = tmp_path_factory.mktemp("wheel-source")
    for path in tracked_files():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, source / path)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        timeout=900,
    )
    (built,) = out.glob("custseg-*.whl")
    return built


def test_the_wheel_ships_the_package_and_the_dbt_project_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = {name: archive.read(name) for name in archive.namelist()}
    dist_info = wheel.name.split("-py3")[0] + ".dist-info/"
    assert all(name.startswith(("custseg/", dist_info)) for name in names)
    # Every module of src/custseg: pyproject.toml lists the packages by hand.
    modules = {path for path in tracked_files("src/custseg") if path.endswith(".py")}
    assert {name for name in names if name.endswith(".py")} == {
        path.removeprefix("src/") for path in modules
    }
    shipped = {
        "dbt_pipeline/" + name.removeprefix(PACKAGE_DATA): data
        for name, data in names.items()
        if name.startswith(PACKAGE_DATA)
    }
    assert shipped == shipped_dbt_files()
    assert "dbt_pipeline/seeds/_seeds.yml" in shipped
    assert {
        name.removeprefix(PROJECT_FILES) for name in names if name.startswith(PROJECT_FILES)
    } == {
        "custseg.example.toml",
        "ml_pipeline/notebooks/customer_segmentation.ipynb",
    }
    assert {name for name in names if name.startswith("custseg/report/templates/")} == {
        "custseg/report/templates/report.css",
        "custseg/report/templates/report.html.j2",
    }


@pytest.mark.wheel
def test_the_installed_wheel_inits_and_runs_a_project(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # Nothing of this repository or of the test's environment leaks into the user's shell.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "DBT_PROFILES_DIR", "PYTHONHOME"}
        and not key.startswith("CUSTSEG_")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"

    def user(*args: str, cwd: Path) -> str:
        result = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=1200
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    home = tmp_path / "home"
    home.mkdir()
    # --no-compile: byte-compiling every module of dbt, scikit-learn, SciPy... at install time
    # costs more than compiling, on first import, the ones a run imports.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
    user(*pip, str(wheel), cwd=home)
    installed = user("python", "-c", "import custseg; print(custseg.__file__)", cwd=home)
    assert Path(installed.strip()).is_relative_to(venv)

    user("custseg", "init", "shop", cwd=home)
    shop = home / "shop"
    user("custseg", "generate-sample", "--out", "data", "--customers", "1000", cwd=shop)
    # No --config: custseg reads the custseg.toml init wrote in the folder it runs in.
    result = json.loads(user("custseg", "run", "--json", cwd=shop))

    assert result["n_customers"] > 900
    assert Path(result["duckdb_path"]) == shop / "dbt_pipeline" / "custseg.duckdb"
    for key in ("segments_path", "model_path", "metrics_path", "seed_path", "report_path"):
        path = Path(result[key])
        assert path.is_relative_to(shop) and path.stat().st_size > 0, key
    segments = Path(result["seed_path"]).read_text().splitlines()
    assert segments[0] == "customer_id,segment_id,segment_name"
    assert len(segments) == result["n_customers"] + 1
