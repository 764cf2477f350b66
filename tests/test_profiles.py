"""Which profiles.yml dbt reads, and the check that it names the warehouse custseg loads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation
from custseg.errors import ConfigError
from custseg.settings import resolve_settings
from tests.support import CLEAN_ENV, write_input_files


def profiles(folder: Path, duckdb_path: str) -> Path:
    """A profiles.yml in ``folder`` whose profile custseg writes to ``duckdb_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(
        textwrap.dedent(
            f"""\
            custseg:
              target: duckdb
              outputs:
                duckdb:
                  type: duckdb
                  path: "{duckdb_path}"
            """
        )
    )
    return folder


def test_the_project_s_own_profiles_unless_dbt_profiles_dir_or_the_option(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("CUSTSEG_PROFILES_DIR", raising=False)
    own = resolve_settings(project_dir=project_root)
    assert own.profiles_dir == project_root / "dbt_pipeline"
    from_dbt = profiles(tmp_path / "dbt_home", "x.duckdb")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(from_dbt))
    assert resolve_settings(project_dir=project_root).profiles_dir == from_dbt
    given = profiles(tmp_path / "given", "x.duckdb")
    settings = resolve_settings(project_dir=project_root, profiles_dir=given)
    assert settings.profiles_dir == given
    argv = DbtInvocation(project_root, profiles_dir=settings.profiles_dir).command_line("run", [])
    assert argv[argv.index("--profiles-dir") + 1] == str(given)


def test_a_folder_without_profiles_yml_is_named(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=f"DBT_PROFILES_DIR: no profiles.yml in {tmp_path}"):
        resolve_settings(project_dir=project_root)


def test_a_profile_on_another_duckdb_file_stops_the_run_before_loading(
    project_root: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere.duckdb"
    folder = profiles(tmp_path / "home", str(other))
    data = write_input_files(tmp_path / "data")
    args = ["run", "--project-dir", str(project_root), "--data-dir", str(data)]
    result = CliRunner().invoke(cli, [*args, "--profiles-dir", str(folder)], env=CLEAN_ENV)
    assert result.exit_code == 2, result.output
    default = project_root / "dbt_pipeline" / "custseg.duckdb"
    assert f"dbt would build in {other}, but custseg loads the raw tables into {default}" in (
        result.stderr
    )
    assert not default.exists() and not other.exists()


def test_a_profiles_yml_without_the_custseg_profile_is_named(
    project_root: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "profiles.yml").write_text("shop:\n  target: dev\n  outputs: {}\n")
    data = write_input_files(tmp_path / "data")
    result = CliRunner().invoke(
        cli,
        ["run", "--project-dir", str(project_root), "--data-dir", str(data)]
        + ["--profiles-dir", str(folder)],
        env=CLEAN_ENV,
    )
    assert result.exit_code == 2
    assert "no output 'duckdb' in a profile 'custseg' (profiles found: shop)" in result.stderr
