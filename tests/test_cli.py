"""The command line: help for every command, errors as messages with documented exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import custseg.cli
from custseg.cli import cli
from tests.support import REPO_ROOT


def command_names() -> list[str]:
    return sorted(cli.commands)


def long_options(name: str) -> list[str]:
    """The ``--long`` options of a command (flags' ``--no-x`` forms included), without --help."""
    return sorted(
        option
        for param in cli.commands[name].params
        for option in (*param.opts, *param.secondary_opts)
        if option.startswith("--") and option != "--help"
    )


def readme_section(readme: str, name: str) -> str:
    """The README text from the heading "### `custseg NAME`" to the next heading."""
    heading = f"### `custseg {name}`"
    assert heading in readme, f"README.md has no section {heading!r}"
    section = readme.split(heading, 1)[1]
    return re.split(r"\n#{1,3} ", section, maxsplit=1)[0]


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_with_an_example_and_exit_codes(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "Exit codes: 0 success" in result.output
    assert len(cli.commands[name].help or "") > 40


def test_the_group_help_lists_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes: 0 success" in result.output
    assert all(name in result.output for name in command_names())


def test_readme_documents_every_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in command_names():
        assert f"custseg {name}" in readme, name


@pytest.mark.parametrize("name", command_names())
def test_readme_section_of_each_command_mentions_all_its_options(name: str) -> None:
    section = readme_section((REPO_ROOT / "README.md").read_text(), name)
    missing = [option for option in long_options(name) if option not in section]
    assert not missing, f"README section of `custseg {name}` does not mention {missing}"


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_quiet_and_json(name: str) -> None:
    assert {"--quiet", "--json"} <= set(long_options(name))


def test_generate_sample_reports_progress_on_stderr_and_a_summary_on_stdout(
    tmp_path: Path,
) -> None:
    args = ["generate-sample", "--out", str(tmp_path / "s"), "--customers", "30"]
    plain = CliRunner().invoke(cli, args)
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.startswith("Wrote 30 customers, ")
    # stderr is not a terminal here: plain lines with the seconds since the start.
    lines = plain.stderr.splitlines()
    assert re.fullmatch(r"\[ +\d+\.\ds\] Generating 30 customers into .+", lines[0])
    assert re.fullmatch(r"\[ +\d+\.\ds\] Done", lines[-1])

    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0 and as_json.stderr == ""
    summary = json.loads(as_json.stdout)
    assert summary["n_customers"] == 30 and summary["file_format"] == "csv"
    assert summary["n_sales_lines"] >= summary["n_orders"] >= 30

    quiet = CliRunner().invoke(cli, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_generate_sample_bad_count_is_a_bad_option() -> None:
    result = CliRunner().invoke(cli, ["generate-sample", "--out", "x", "--customers", "0"])
    assert result.exit_code == 2
    assert "n_customers must be at least 1" in result.output


def test_k_outside_the_named_range_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--data-dir", str(tmp_path), "--project-dir", str(REPO_ROOT), "--k", "11"]
    )
    assert result.exit_code == 2
    assert "--k: '11' is not valid; write a whole number from 2 to 10" in result.output


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
    assert "--as-of-date: '1/1/2020' is not valid; write a date as YYYY-MM-DD" in result.output


# `custseg run --json` on a sample: tests/test_api.py runs it beside `custseg.run(...)`, and
# checks both print the same result.


def test_evaluate_prints_the_evidence_table(project_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "sample"
    assert (
        runner.invoke(
            cli, ["generate-sample", "--out", str(data_dir), "--customers", "1200"]
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
            "--fit-sample-size",
            "1000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "", "--json prints no progress"
    selection = json.loads(result.stdout)
    assert [e["k"] for e in selection["evaluations"]] == [2, 3, 4, 5, 6, 7, 8]
    # Every k was fitted on the sample `custseg run --fit-sample-size 1000` fits on.
    assert (selection["n_customers"], selection["fit_sample_size"]) == (1200, 1000)
    assert (project_root / "ml_pipeline" / "models" / "k_selection.json").is_file()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["run", "--data-dir", "{missing}", "--json"], 2, "--data-dir: no such folder"),
        (["run", "--data-dir", "{tmp}", "--k", "x", "--json"], 2, "--k: 'x' is not valid"),
        (["run", "--no-such-option", "--json"], 2, "No such option"),
        (["report", "--project-dir", "{tmp}", "--json"], 2, "dbt_project.yml"),
    ],
)
def test_with_json_stdout_holds_only_json_also_on_failure(
    args: list[str], code: int, says: str, tmp_path: Path
) -> None:
    values = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path)}
    result = CliRunner().invoke(cli, [arg.format(**values) for arg in args])
    assert result.exit_code == code
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == code
    assert says in payload["error"]
    assert says in result.stderr  # people still read stderr


def test_an_interruption_with_json_is_json_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    monkeypatch.setattr("custseg.pipeline.recover_pipeline", interrupted)
    result = CliRunner().invoke(cli, ["recover", "--json"])
    assert result.exit_code == 130
    assert json.loads(result.stdout) == {"error": "Nothing was published.", "exit_code": 130}
    assert result.stderr.startswith("Interrupted (SIGTERM).\nNothing was published.")


def test_version_lists_dbt_its_adapters_and_duckdb() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("custseg ")
    names = [line.split()[0] for line in lines[1:]]
    adapters = ["dbt-duckdb", "dbt-postgres", "dbt-spark", "dbt-snowflake"]
    assert names == ["dbt-core", *adapters, "duckdb"]
    assert f"duckdb {duckdb.__version__}" in lines


def console_script(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``custseg ARGS`` as its console script runs it (custseg.cli.main), after ``prelude``."""
    program = "\n".join(
        [prelude, "import sys", "from custseg.cli import main", "sys.argv[0] = 'custseg'", "main()"]
    )
    return subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120
    )


def test_the_console_script_ends_as_python_would_without_tearing_its_modules_down() -> None:
    # Its exit handlers run and its output is flushed, whatever the exit code.
    prelude = "import atexit\natexit.register(print, 'exit handlers ran')"
    listed = console_script(prelude, "--version")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("custseg") and listed.stdout.endswith("exit handlers ran\n")
    wrong = console_script(prelude, "run", "--no-such-option")
    assert wrong.returncode == 2
    assert "No such option" in wrong.stderr and wrong.stdout == "exit handlers ran\n"


def test_a_thread_still_working_makes_the_console_script_exit_as_usual(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server's thread ends first, as at a normal exit: the process is not cut short."""
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    release = threading.Event()
    working = threading.Thread(target=release.wait)
    working.start()
    try:
        with pytest.raises(SystemExit) as exiting:
            custseg.cli._end_process(3)
    finally:
        release.set()
        working.join()
    assert exiting.value.code == 3 and ended == []
