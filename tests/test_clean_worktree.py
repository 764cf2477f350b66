"""No customer data in tracked files: a run leaves `git status` clean.

The seeds a run publishes hold customer ids, so they live in the git-ignored
``dbt_pipeline/seeds/published/``; everything else a run writes (the sample, the warehouse,
dbt's target/ and logs/, the model and report) is git-ignored too. The test clones the
repository's committed state, as a user gets it, and does what ``make run`` does in it.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.settings import PUBLISHED_SEEDS, ProjectLayout
from tests.support import CLEAN_ENV, REPO_ROOT

#: Enough customers for five segments, few enough to keep the run at a few seconds.
CUSTOMERS = 300


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    folder = tmp_path_factory.mktemp("clone") / "custseg"
    git(REPO_ROOT, "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(folder))
    return folder


def test_a_fresh_clone_tracks_no_published_seed(clone: Path) -> None:
    tracked = git(clone, "ls-files", "dbt_pipeline/seeds").split()
    assert tracked == ["dbt_pipeline/seeds/_seeds.yml"]
    assert not ProjectLayout(clone).published_seeds_dir.exists()


def test_a_run_in_a_clone_leaves_git_status_clean(clone: Path) -> None:
    sample = clone / "build" / "sample_data"  # where `make run` puts it
    runner = CliRunner()
    generated = runner.invoke(
        cli,
        ["generate-sample", "--out", str(sample), "--customers", str(CUSTOMERS), "--seed", "42"],
        env=CLEAN_ENV,
    )
    assert generated.exit_code == 0, generated.output
    result = runner.invoke(
        cli, ["run", "--data-dir", str(sample), "--project-dir", str(clone)], env=CLEAN_ENV
    )
    assert result.exit_code == 0, result.output

    status = git(clone, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"a run left these files for git to see:\n{status}"

    layout = ProjectLayout(clone)
    rows = {}
    for name, path in layout.published_seed_paths.items():
        with open(path, newline="", encoding="utf-8") as handle:
            rows[name] = list(csv.DictReader(handle))
    assert len(rows["customer_segments"]) == CUSTOMERS
    assert len(rows["segment_definitions"]) == 5
    assert len(rows["segment_model_parameters"]) == 5

    # dbt_project.yml configures the seeds by folder: its column types reach the seeds there.
    manifest = json.loads((layout.dbt_project_dir / "target" / "manifest.json").read_text())
    for name, header in PUBLISHED_SEEDS.items():
        node = manifest["nodes"][f"seed.custseg.{name}"]
        assert node["original_file_path"] == f"seeds/published/{name}.csv"
        assert set(node["config"]["column_types"]) == set(header), name
