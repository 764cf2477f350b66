"""The command line: help for every command, errors as messages with documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from custseg.cli import cli
from tests.support import REPO_ROOT


def command_names() -> list[str]:
    return sorted(cli.commands)


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert len(cli.commands[name].help or "") > 40


def test_readme_documents_every_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in command_names():
        assert f"custseg {name}" in readme, name


def test_k_outside_the_named_range_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--data-dir", str(tmp_path), "--project-dir", str(REPO_ROOT), "--k", "7"]
    )
    assert result.exit_code == 2
    assert "k must be between 2 and 5" in result.output


def test_bad_as_of_date_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--data-dir",
            str(tmp_path),
            "--project-dir",
            str(REPO_ROOT),
            "--as-of-date",
            "1/1/2020",
        ],
    )
    assert result.exit_code == 2
    assert "not a date written YYYY-MM-DD" in result.output


def test_run_on_a_sample_prints_a_json_summary(project_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "sample"
    generated = runner.invoke(
        cli, ["generate-sample", "--out", str(data_dir), "--customers", "400"]
    )
    assert generated.exit_code == 0, generated.output
    result = runner.invoke(
        cli,
        [
            "run",
            "--data-dir",
            str(data_dir),
            "--project-dir",
            str(project_root),
            "--duckdb-path",
            str(tmp_path / "w.duckdb"),
            "--as-of-date",
            "2019-12-01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["as_of_date"] == "2019-12-01"
    assert summary["duckdb_path"] == str(tmp_path / "w.duckdb")
    assert sum(s["customers"] for s in summary["segments"]) == summary["n_customers"]
    assert summary["n_customers"] <= 400


def test_evaluate_prints_the_evidence_table(project_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "sample"
    assert (
        runner.invoke(
            cli, ["generate-sample", "--out", str(data_dir), "--customers", "300"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        cli,
        [
            "evaluate",
            "--data-dir",
            str(data_dir),
            "--project-dir",
            str(project_root),
            "--duckdb-path",
            str(tmp_path / "w.duckdb"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    selection = json.loads(result.stdout)
    assert [e["k"] for e in selection["evaluations"]] == [2, 3, 4, 5]
    assert (project_root / "ml_pipeline" / "models" / "k_selection.json").is_file()
