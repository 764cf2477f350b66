"""Settings: one definition per option, read from the command line, the environment, custseg.toml.

Every option has one default (custseg.settings.Settings), one command line flag, one
environment variable CUSTSEG_<OPTION> and one [run] key; the command line wins over the
variable, which wins over the file, which wins over the default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.config_file import load_config_file, settings_from
from custseg.errors import ConfigError
from custseg.ingest.layout import INPUT_KEYS, raw_table
from custseg.ingest.mapping import usual_input
from custseg.settings import (
    DEFAULTS,
    DUCKDB_MEMORY_LIMIT_DEFAULT,
    DUCKDB_MEMORY_LIMIT_ENV,
    OPTIONS,
    SCHEMA_DEFAULT,
    SCHEMA_ENV,
    TARGETS,
    Given,
    Settings,
    command_line,
    environment,
    resolve,
)
from custseg.warehouses import IMPLEMENTATIONS
from tests.support import CLEAN_ENV, REPO_ROOT, write_config, write_input_files


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config_file(write_config(tmp_path, text))
    return str(caught.value)


# ------------------------------------------------------------------------- one definition


def test_every_option_has_one_flag_one_variable_and_one_key() -> None:
    fields = {f.name for f in dataclasses.fields(Settings) if f.metadata.get("option")}
    assert fields == set(OPTIONS)
    assert OPTIONS["as_of_date"].flag == "--as-of-date"
    assert OPTIONS["as_of_date"].env == "CUSTSEG_AS_OF_DATE"
    assert OPTIONS["k"].flag == "--k" and OPTIONS["k"].env == "CUSTSEG_K"


def test_run_offers_every_option_and_every_cli_option_defaults_to_not_given() -> None:
    flags = {
        param.name: param
        for param in cli.commands["run"].params
        if param.name not in {"config_file", "as_json", "quiet"}
    }
    assert set(flags) == set(OPTIONS)
    assert all(param.default is None for param in flags.values())


def test_the_defaults_are_those_of_the_settings_model(tmp_path: Path) -> None:
    settings = resolve(cwd=REPO_ROOT)
    resolved = {"project_dir": None, "duckdb_path": None, "profiles_dir": None}
    assert dataclasses.replace(settings, **resolved) == DEFAULTS
    assert settings.project_dir == REPO_ROOT
    assert settings.duckdb_path == REPO_ROOT / "dbt_pipeline" / "custseg.duckdb"
    assert (DEFAULTS.k, DEFAULTS.random_state, DEFAULTS.target) == (5, 42, "duckdb")
    assert DEFAULTS.target in TARGETS


# ------------------------------------------------------------------------- precedence


def test_command_line_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = write_config(
        tmp_path,
        """
        [run]
        data_dir = "data"
        k = 3
        random_state = 7
        min_segment_share = 0.2
        as_of_date = 2020-01-01
        """,
    )
    config = load_config_file(path)
    environ = {"CUSTSEG_RANDOM_STATE": "11", "CUSTSEG_K": "4", "CUSTSEG_TARGET": ""}
    settings = resolve(
        command_line({"k": "2", "project_dir": REPO_ROOT, "as_of_date": None}),
        environment(environ),
        config.run,
    )
    assert settings.k == 2  # command line
    assert settings.random_state == 11  # environment (an empty variable is not given)
    assert settings.min_segment_share == 0.2  # file
    assert settings.as_of_date == dt.date(2020, 1, 1)  # file, as a bare TOML date
    assert settings.data_dir == tmp_path / "data"  # relative to the file's folder
    assert settings.max_centroid_shift == DEFAULTS.max_centroid_shift  # default
    assert settings.target == "duckdb"


def test_every_option_can_be_set_by_its_environment_variable(tmp_path: Path) -> None:
    data = write_input_files(tmp_path / "data")
    profiles = tmp_path / "dbt_home"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text("custseg: {}\n")
    values = {
        "data_dir": str(data),
        "project_dir": str(REPO_ROOT),
        "duckdb_path": str(tmp_path / "w.duckdb"),
        "profiles_dir": str(profiles),
        "dataset": "shop-eu",
        "target": "postgres",
        "lock_timeout": "2.5",
        "as_of_date": "2020-02-01",
        "k": "auto",
        "random_state": "3",
        "min_segment_share": "0.1",
        "max_centroid_shift": "0.25",
        "drift_psi_alarm": "0.2",
        "drift_share_shift_alarm": "0.05",
        "drift_kept_share_min": "0.8",
        "seed_max_customers": "10",
        "fit_sample_size": "5000",
        "allow_unsupported_names": "true",
        "currency": " EUR ",
        "strict_amounts": "yes",
    }
    assert set(values) == set(OPTIONS)
    settings = resolve(environment({OPTIONS[name].env: text for name, text in values.items()}))
    assert settings == Settings(
        data_dir=data,
        project_dir=REPO_ROOT,
        duckdb_path=tmp_path / "w.duckdb",
        profiles_dir=profiles,
        dataset="shop-eu",
        target="postgres",
        lock_timeout=2.5,
        as_of_date=dt.date(2020, 2, 1),
        k="auto",
        random_state=3,
        min_segment_share=0.1,
        max_centroid_shift=0.25,
        drift_psi_alarm=0.2,
        drift_share_shift_alarm=0.05,
        drift_kept_share_min=0.8,
        seed_max_customers=10,
        fit_sample_size=5000,
        allow_unsupported_names=True,
        currency="EUR",
        strict_amounts=True,
    )
    assert settings.n_segments is None


def test_every_option_can_be_set_in_the_run_table(tmp_path: Path) -> None:
    config = load_config_file(REPO_ROOT / "custseg.example.toml")
    assert set(config.run.values) == set(OPTIONS)
    assert config.run.values["data_dir"] == Path("exports/2024")
    assert config.run.base_dir == REPO_ROOT
    assert config.run.values["as_of_date"] == dt.date(2025, 1, 1)
    assert [spec.key for spec in config.inputs] == list(INPUT_KEYS)
    for spec in config.inputs:
        # Every one of our columns is mapped, so the example documents all of them.
        assert [ours for ours, _ in spec.columns] == list(spec.table.columns), spec.key
    sales = next(spec for spec in config.inputs if spec.key == "sales")
    assert (sales.file, sales.date_format, sales.source_column("customerid")) == (
        "orders_export.parquet",
        "%Y-%m-%d",
        "client_ref",
    )


def test_an_empty_file_sets_nothing(tmp_path: Path) -> None:
    config = load_config_file(write_config(tmp_path, ""))
    assert (config.run.values, config.inputs) == ({}, ())


# ------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (Given({"k": "11"}, lambda name: "--k"), "--k: '11' is not valid; write a whole number"),
        (Given({"k": 1}, lambda name: "k in [run] of x.toml"), "from 2 to 10 (the naming rules"),
        (Given({"random_state": "-1"}, lambda name: "CUSTSEG_RANDOM_STATE"), ">= 0"),
        (Given({"as_of_date": "1/1/2020"}, lambda name: "--as-of-date"), "YYYY-MM-DD"),
        (Given({"target": "mysql"}, lambda name: "--target"), "one of duckdb, postgres, spark"),
        (Given({"min_segment_share": "1.5"}, lambda name: "--min-segment-share"), "share"),
        (Given({"max_centroid_shift": "0"}, lambda name: "--max-centroid-shift"), "positive"),
        (Given({"drift_psi_alarm": "-0.1"}, lambda name: "--drift-psi-alarm"), "positive"),
        (Given({"drift_kept_share_min": "1.5"}, lambda name: "--x"), "a share from 0 to 1"),
        (Given({"fit_sample_size": "10"}, lambda name: "--fit-sample-size"), ">= 1000"),
        (Given({"allow_unsupported_names": "maybe"}, lambda name: "CUSTSEG_X"), "true or false"),
        (Given({"currency": "EUR 1"}, lambda name: "--currency"), "without digits or spaces"),
        (Given({"currency": "dollars"}, lambda name: "--currency"), "1 to 5 characters"),
        (Given({"currency": 5}, lambda name: "currency in [run]"), "(e.g. EUR, $ or ₹)"),
    ],
)
def test_a_bad_value_names_where_it_came_from_and_what_to_write(
    given: Given, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(given, cwd=REPO_ROOT)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(given.describe(""))


@pytest.mark.parametrize(
    ("written", "kept"), [("EUR", "EUR"), (" $ ", "$"), ("₹", "₹"), ("R$", "R$"), ("", None)]
)
def test_a_currency_is_a_short_label_or_none(written: str, kept: str | None) -> None:
    settings = resolve(Given({"currency": written}, lambda name: "--currency"), cwd=REPO_ROOT)
    assert settings.currency == kept


def test_a_missing_data_folder_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--data-dir: no such folder"):
        resolve(command_line({"data_dir": tmp_path / "nope"}), cwd=REPO_ROOT)
    path = write_config(tmp_path, '[run]\ndata_dir = "missing"\n')
    with pytest.raises(ConfigError, match="no such folder .*missing \\(a relative path is taken"):
        settings_from(path, {"project_dir": REPO_ROOT})
    with pytest.raises(ConfigError, match="pass --data-dir DIR, or set data_dir in the \\[run\\]"):
        settings_from(None, {"project_dir": REPO_ROOT}, require_data_dir=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[run]\nthreads = 4\n", "[run] of"),
        ("[run]\nthreads = 4\n", "unknown key 'threads'; valid: data_dir, project_dir, duckdb"),
        ("[settings]\n", "unknown top-level table 'settings'; valid: run, inputs"),
        ('[inputs.sales]\nfilename = "s.csv"\n', "unknown key 'filename'; valid: file, date_"),
        ("[run]\nk = 11\n", "k in [run] of"),
        ("[run]\nk = 11\n", "a whole number from 2 to 10 (the naming rules define 10 segments) or"),
        ("[run]\nk = true\n", "k in [run]"),
        ("[run]\nrandom_state = -1\n", "random_state in [run] of"),
        ('[run]\ntarget = "mysql"\n', "one of duckdb, postgres, spark"),
        ('[run]\nas_of_date = "1/1/2020"\n', "a date as YYYY-MM-DD (for example 2020-01-01)"),
        ("[run]\ndata_dir = 3\n", "data_dir in [run] of"),
        ("[run\n", "not valid TOML"),
        ('[inputs.sales]\nfile = "sales.xlsx"\n', "must end in .csv, .txt, .tsv, .parquet"),
        ('[inputs.sales]\ndelimiter = ":"\n', "':' is not one custseg reads; write one of"),
        ("[inputs.sales]\ndelimiter = 1\n", "1 is not one custseg reads"),
        (
            '[inputs.sales]\nfile = "s.parquet"\ndelimiter = ";"\n',
            "is a Parquet file, which has no delimiter",
        ),
        ('[inputs.sales.columns]\nquantity = ""\n', "must be your column's name in quotes"),
        (
            '[inputs.sales.columns]\ncustomerid = "ref"\ntransaction_id = "REF "\n',
            "customerid and transaction_id would both read your column 'ref'",
        ),
        (
            '[inputs.customers.columns]\ncustomerid = "gender"\n',
            "customerid and gender would both read your column 'gender'",
        ),
        ('[inputs.custmers]\nfile = "c.csv"\n', "unknown input 'custmers'; valid: customers, "),
        ('[inputs.customers.columns]\nclient_id = "ref"\n', "'client_id' is not a column of"),
    ],
)
def test_invalid_settings_say_what_to_write(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("date_format", "expected"),
    [
        (
            "%Y-%m",
            "does not hold a whole date (2019-11-23 written with it reads back as 2019-11-01)",
        ),
        ("%Y-%Q-%d", "is not a date format DuckDB understands"),
        ("%Y-%m-%d %z", "has a time zone"),
        ("", "must be a non-empty string"),
        ("DD-MM-YYYY", "'DD-MM-YYYY' is not a date format custseg knows; write one of 'M/D/YYYY'"),
        ("20190105", "is not a date format custseg knows"),
    ],
)
def test_bad_date_formats_are_refused(tmp_path: Path, date_format: str, expected: str) -> None:
    message = config_error(tmp_path, f"[inputs.sales]\ndate_format = '{date_format}'\n")
    assert "date_format in [inputs.sales] of" in message
    assert expected in message


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("iso", "ISO"),
        ("yyyymmdd", "YYYYMMDD"),
        ("YYYY-MM-DD", "YYYY-MM-DD"),
        ("m/d/yyyy", "%m/%d/%Y"),
    ],
)
def test_date_formats_have_names(tmp_path: Path, written: str, kept: str) -> None:
    config = load_config_file(
        write_config(tmp_path, f'[inputs.sales]\ndate_format = "{written}"\n')
    )
    assert config.inputs[0].date_format == kept


@pytest.mark.parametrize(
    ("written", "kept"),
    [(";", ";"), ("|", "|"), ("TAB", "\t"), ("\t", "\t"), ("Whitespace", "whitespace")],
)
def test_delimiters_have_names(tmp_path: Path, written: str, kept: str) -> None:
    text = f"[inputs.sales]\ndelimiter = {written!r}\n".replace("'", '"')
    config = load_config_file(write_config(tmp_path, text))
    assert config.inputs[0].delimiter == kept


def test_only_the_sales_are_required(tmp_path: Path) -> None:
    config = load_config_file(write_config(tmp_path, '[inputs.sales]\nfile = "log.csv"\n'))
    assert [spec.key for spec in config.inputs] == ["sales"]
    customers = usual_input(raw_table("customers"))
    assert customers.find_file(tmp_path) is None


def test_our_column_names_ignore_case_and_spaces(tmp_path: Path) -> None:
    config = load_config_file(
        write_config(tmp_path, '[inputs.customers.columns]\nCustomerID = "ref"\n')
    )
    assert config.inputs[0].columns == (("customerid", "ref"),)


def test_a_date_format_on_an_input_without_dates_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[inputs.customers]\ndate_format = "%Y-%m-%d"\n')
    assert "customers has no date column; remove it" in message


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config_file(tmp_path / "nope.toml")


# ------------------------------------------------------------------------- the CLI


def test_cli_run_needs_a_data_folder_from_the_flag_or_the_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--project-dir", str(REPO_ROOT)], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "pass --data-dir DIR, or set data_dir in the [run] table" in result.output
    bad = write_config(tmp_path, "[inputs.custmers]\n")
    result = CliRunner().invoke(
        cli, ["run", "--config", str(bad), "--data-dir", str(tmp_path)], env=CLEAN_ENV
    )
    assert result.exit_code == 2
    assert "unknown input 'custmers'" in result.output


def test_a_bad_environment_variable_is_a_config_error_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(tmp_path), "--project-dir", str(REPO_ROOT)],
        env={**CLEAN_ENV, "CUSTSEG_K": "11"},
    )
    assert result.exit_code == 2
    assert "CUSTSEG_K: '11' is not valid" in result.output


@pytest.mark.parametrize("command", ["run", "evaluate", "report"])
def test_every_command_reads_the_config_file(
    command: str, project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_input_files(tmp_path / "data")
    path = write_config(
        tmp_path,
        f"""
        [run]
        data_dir = "data"
        project_dir = "{project_root}"
        duckdb_path = "w.duckdb"
        as_of_date = "2020-01-01"
        random_state = 9
        """,
    )
    seen = []

    def stop(settings: Settings, *args: object, **kwargs: object) -> None:
        seen.append(settings)
        raise ConfigError("stopped by the test")

    stage = {"run": "run_pipeline", "evaluate": "evaluate_pipeline", "report": "report_pipeline"}
    monkeypatch.setattr(f"custseg.pipeline.{stage[command]}", stop)
    result = CliRunner().invoke(cli, [command, "--config", str(path)], env=CLEAN_ENV)
    assert result.exit_code == 2, result.output
    (settings,) = seen
    assert settings.data_dir == data
    assert settings.project_dir == project_root
    assert settings.duckdb_path == tmp_path / "w.duckdb"
    assert (settings.as_of_date, settings.random_state) == (dt.date(2020, 1, 1), 9)


def test_the_dbt_profile_defaults_are_the_settings_defaults() -> None:
    """profiles.yml reads the engine settings from the same variables, with the same defaults."""
    profile = (REPO_ROOT / "dbt_pipeline" / "profiles.yml").read_text(encoding="utf-8")
    defaults = {
        (name, default)
        for name, default in re.findall(r"env_var\('(CUSTSEG_[A-Z_]+)', '([^']*)'\)", profile)
    }
    assert ("CUSTSEG_TARGET", DEFAULTS.target) in defaults
    assert (DUCKDB_MEMORY_LIMIT_ENV, DUCKDB_MEMORY_LIMIT_DEFAULT) in defaults
    assert {default for name, default in defaults if name == SCHEMA_ENV} == {SCHEMA_DEFAULT}


def test_the_readme_lists_every_setting_with_its_variable_and_key() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    for name, option in OPTIONS.items():
        assert f"| `{option.flag}` | `{option.env}` | `{name}` |" in section, name


def test_there_is_one_list_of_targets() -> None:
    assert tuple(IMPLEMENTATIONS) == TARGETS
    assert OPTIONS["target"].metavar == "|".join(TARGETS)
