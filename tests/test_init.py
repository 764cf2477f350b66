"""`custseg init`: a new project laid out from the package data, never over existing files."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.config_file import load_config_file
from custseg.scaffold import GITIGNORE, SHIPPED, is_run_output, render_config
from custseg.settings import DEFAULTS, OPTIONS
from tests.support import CLEAN_ENV, REPO_ROOT, shipped_dbt_files


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=CLEAN_ENV)
    return result.exit_code, result.stdout, result.stderr


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_init_lays_out_the_dbt_project_configs_and_gitignore(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    code, out, err = invoke("init", str(project), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["project_dir"] == str(project)
    assert payload["gitignore_extended"] is False
    written = files_under(project)
    assert set(payload["created"]) == set(written)
    # The dbt project byte for byte as git tracks it, without the published seeds.
    dbt_files = {path: data for path, data in written.items() if path.startswith("dbt_pipeline/")}
    assert dbt_files == shipped_dbt_files()
    assert "dbt_pipeline/seeds/_seeds.yml" in dbt_files
    assert not [path for path in dbt_files if path.endswith(".csv")]
    assert set(written) - set(dbt_files) == {
        ".gitignore",
        "custseg.toml",
        "custseg.example.toml",
        "ml_pipeline/models/.gitkeep",
        "ml_pipeline/notebooks/customer_segmentation.ipynb",
    }
    assert written["custseg.example.toml"] == (REPO_ROOT / "custseg.example.toml").read_bytes()
    assert written[".gitignore"].decode() == GITIGNORE
    # The config reads as the defaults, with the data in data/ and the project here.
    (project / "data").mkdir()
    config = load_config_file(project / "custseg.toml")
    assert config.run.values == {"data_dir": Path("data"), "project_dir": Path(".")}
    assert config.inputs == ()


def test_every_commented_setting_of_the_config_is_its_default(tmp_path: Path) -> None:
    """Uncommenting a `# key = value` line of the generated custseg.toml changes nothing."""
    text = render_config()
    commented = dict(re.findall(r"^# (\w+) = (.+)$", text, flags=re.MULTILINE))
    assert set(commented) >= set(OPTIONS) - {"data_dir", "project_dir"}
    for name, value in commented.items():
        if name not in OPTIONS or getattr(DEFAULTS, name) is None:
            continue
        parsed = tomllib.loads(f"{name} = {value}")[name]
        assert OPTIONS[name].read(parsed) == getattr(DEFAULTS, name), name


def test_init_refuses_a_folder_holding_a_project(tmp_path: Path) -> None:
    assert invoke("init", str(tmp_path))[0] == 0
    before = files_under(tmp_path)
    code, out, err = invoke("init", str(tmp_path), "--json")
    assert code == 2
    assert f"{tmp_path} already holds a custseg project" in err
    assert json.loads(out)["exit_code"] == 2
    assert files_under(tmp_path) == before


def test_init_refuses_to_overwrite_a_file_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "custseg.toml").write_text("# mine\n")
    code, _, err = invoke("init", str(tmp_path))
    assert code == 2
    assert "already holds custseg.toml, which custseg init would overwrite" in err
    assert files_under(tmp_path) == {"custseg.toml": b"# mine\n"}


def test_init_adds_its_lines_to_an_existing_gitignore_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")
    code, out, _ = invoke("init", str(tmp_path), "--json")
    assert code == 0
    assert json.loads(out)["gitignore_extended"] is True
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n" + GITIGNORE


def test_init_refuses_a_file_as_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.write_text("")
    code, _, err = invoke("init", str(target))
    assert code == 2
    assert f"{target} is a file" in err


def test_the_source_folders_of_the_package_data_are_pyproject_s() -> None:
    """An editable install finds the package data where pyproject.toml maps it from."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    assert {name: package_dir[f"custseg.{name}"] for name in SHIPPED} == SHIPPED


@pytest.mark.parametrize(
    ("path", "output"),
    [
        ("models/marts/fct_sales.sql", False),
        ("seeds/_seeds.yml", False),
        ("seeds/country_codes.csv", False),
        ("seeds/published/customer_segments.csv", True),
        ("target/manifest.json", True),
        ("logs/dbt.log", True),
        ("dbt_packages/x/dbt_project.yml", True),
        (".user.yml", True),
        ("custseg.duckdb", True),
        ("custseg.duckdb.wal", True),
    ],
)
def test_run_outputs_are_never_shipped(path: str, output: bool) -> None:
    assert is_run_output(PurePosixPath(path)) is output


def test_a_command_reads_the_custseg_toml_of_its_folder_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = invoke("init", str(tmp_path / "shop"))
    assert code == 0, err
    monkeypatch.chdir(tmp_path / "shop")
    Path("custseg.toml").write_text('[run]\nk = "seven"\n', encoding="utf-8")
    Path("other.toml").write_text("[run]\nk = 5\n", encoding="utf-8")
    # Found in the folder the command runs in, without --config.
    code, _, err = invoke("recover")
    assert code == 2
    assert f"k in [run] of {tmp_path / 'shop' / 'custseg.toml'}: 'seven' is not valid" in err
    # --config and CUSTSEG_CONFIG name another file, and the folder's is not read.
    assert invoke("recover", "--config", "other.toml")[0] == 0
    result = CliRunner().invoke(cli, ["recover"], env={**CLEAN_ENV, "CUSTSEG_CONFIG": "other.toml"})
    assert result.exit_code == 0, result.stderr
    # Nothing in the folder: the defaults.
    Path("custseg.toml").unlink()
    assert invoke("recover")[0] == 0
