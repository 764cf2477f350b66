"""Secrets and safety: no credential in tracked files, none printed, no SQL from configuration.

The planted credentials below are assembled at run time so that this file itself holds none.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from custseg.cli import cli
from custseg.errors import ConfigError
from custseg.sample import generate_sample_data
from custseg.settings import resolve_settings
from custseg.sql import quote_identifier
from custseg.warehouses.postgres_warehouse import PostgresSettings
from custseg.warehouses.spark_warehouse import SparkWarehouse
from tests.postgres_server import PostgresServer
from tests.support import (
    CLEAN_ENV,
    REPO_ROOT,
    copy_project,
    load_into_duckdb,
    write_input_files,
)

HOSTILE = 'seg"; drop schema raw cascade; --'
# Credential-like text is written with "~" inside its key words and values, removed when the
# file is planted, so that this file itself holds no credential for the scan to find.
FAKE = "hunter2-x9q"
FAKE_KEY_ID = "AKIA~Q3EXAMPLE7KEY9ZZ".replace("~", "")
BASELINE = ".secrets.baseline"
PLUGINS = "scripts/detect_secrets_plugins"


def planted(text: str) -> str:
    return text.replace("~", "")


def scan_command() -> str:
    """The secret scan of `make lint`, read from the Makefile, with the venv's bin folder."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    (line,) = [ln for ln in makefile.splitlines() if ln.startswith("CREDENTIAL_SCAN = ")]
    return line.split(" = ", 1)[1].replace("$(BIN)", str(Path(sys.executable).parent))


def git_repo(folder: Path, files: dict[str, str | bytes], results: dict | None = None) -> Path:
    """A git repository holding ``files`` (staged), the plugins, and the baseline's settings
    with ``results`` (none: every finding is new)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    baseline = json.loads((REPO_ROOT / BASELINE).read_text())
    baseline["results"] = results or {}
    (folder / BASELINE).write_text(json.dumps(baseline, indent=2) + "\n")
    # The plugins are loaded from the path the baseline gives, relative to where the scan runs.
    shutil.copytree(REPO_ROOT / PLUGINS, folder / PLUGINS, ignore=shutil.ignore_patterns("__*"))
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (folder / name).write_bytes(text)
        else:
            (folder / name).write_text(text)
    subprocess.run(["git", "add", BASELINE, *files], cwd=folder, check=True)
    return folder


def run_scan(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(scan_command(), shell=True, cwd=folder, capture_output=True, text=True)


def test_make_lint_runs_detect_secrets_against_the_audited_baseline() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "\t$(CREDENTIAL_SCAN)\n" in recipe
    assert f"scripts/check_secrets_baseline.py {BASELINE}" in recipe
    assert "detect-secrets-hook --no-verify --baseline .secrets.baseline" in scan_command()
    baseline = json.loads((REPO_ROOT / BASELINE).read_text())
    # No finding is ever sent to its vendor to be verified.
    assert not [f for f in baseline["filters_used"] if "verification" in f["path"]]
    plugins = baseline["plugins_used"]
    custom = {p["name"]: p["path"] for p in plugins if "path" in p}
    assert custom == {
        "DbtProfilePassDetector": f"file://{PLUGINS}/dbt_credentials.py",
        "SqlPasswordDetector": f"file://{PLUGINS}/dbt_credentials.py",
    }
    assert {"BasicAuthDetector", "PrivateKeyDetector", "AWSKeyDetector"} <= {
        p["name"] for p in plugins
    }


#: file -> (planted text, the type detect-secrets reports). The first two were missed by the
#: hand-written scanner this scan replaced (a URL's password in a .py file was taken for a Python
#: expression; dbt's `pass:` key was not a credential name to it).
PLANTED = {
    "src/settings.py": (
        'DATABASE_URL = "postgresql://custseg:' + FAKE + '@db.example.com/custseg"\n',
        "Basic Auth Credentials",
    ),
    "dbt_pipeline/profiles.yml": (
        "custseg:\n  outputs:\n    postgres:\n      type: postgres\n      pa~ss: hunter2\n",
        "dbt profile credential",
    ),
    "config.yml": ("pass~word: " + FAKE + "\n", "Secret Keyword"),
    "db.ini": ("url = postgresql://bob:" + FAKE + "@db.example.com/x\n", "Basic Auth Credentials"),
    "aws.toml": ('aws_access~_key_id = "' + FAKE_KEY_ID + '"\n', "AWS Access Key"),
    "grant.sql": ("create role bob login pass~word '" + FAKE + "';\n", "SQL password literal"),
    "deploy_key.txt": ("-----BEGIN OPENSSH PRIVATE~ KEY-----\nb3BlbnNzaC1rZXk=\n", "Private Key"),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_credential_is_found_and_its_value_not_printed(name: str, tmp_path: Path) -> None:
    text, kind = PLANTED[name]
    folder = git_repo(tmp_path / "repo", {name: planted(text)})
    completed = run_scan(folder)
    assert completed.returncode != 0, completed.stdout
    assert f"Secret Type: {kind}\nLocation:    {name}:" in completed.stdout, completed.stdout
    assert FAKE not in completed.stdout and FAKE_KEY_ID not in completed.stdout
    assert "hunter2" not in completed.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("profiles.yml", "    pass: \"{{ env_var('PGPASSWORD', '') }}\"\n"),
        ("profiles.yml", "    pass~word: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\"\n"),
        ("profiles.yml", "    token: \"{{ env_var('DATABRICKS_TOKEN') | trim }}\"\n"),
        ("profiles.yml", "    pass: ''\n"),
        ("settings.py", 'pass~word = os.environ["PGPASSWORD"]\n'),
        ("settings.py", "    token: str\n"),
        ("settings.py", 'url = f"postgresql://{user}:{pass~word}@{host}/db"\n'),
        ("accepted_range.sql", "{#- Nulls pass: pair with not_null when they must not. -#}\n"),
        ("README.md", "export PGHOST=db.internal PGPASS~WORD=...\n"),
    ],
)
def test_references_to_secrets_are_not_findings(name: str, text: str, tmp_path: Path) -> None:
    completed = run_scan(git_repo(tmp_path / "repo", {name: planted(text)}))
    assert completed.returncode == 0, completed.stdout


def test_a_literal_default_of_env_var_is_a_finding(tmp_path: Path) -> None:
    line = "    pass: \"{{ env_var('PGPASSWORD', '" + FAKE + "') }}\"\n"
    completed = run_scan(git_repo(tmp_path / "repo", {"profiles.yml": line}))
    assert completed.returncode != 0
    assert "Location:    profiles.yml:1" in completed.stdout, completed.stdout


def test_the_repository_scans_clean_against_its_audited_baseline(tmp_path: Path) -> None:
    """The tracked files as they are in this working tree, scanned as `make lint` does."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    files: dict[str, str | bytes] = {
        name: (REPO_ROOT / name).read_bytes()
        for name in tracked.split("\0")
        if name and (REPO_ROOT / name).is_file() and name != BASELINE
    }
    baseline = json.loads((REPO_ROOT / BASELINE).read_text())
    folder = git_repo(tmp_path / "repo", files, results=baseline["results"])
    completed = run_scan(folder)
    assert completed.returncode == 0, completed.stdout
    # Nothing moved: the committed baseline's line numbers are those of the files.
    assert json.loads((folder / BASELINE).read_text())["results"] == baseline["results"]
    audited = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "check_secrets_baseline.py"), BASELINE],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert audited.returncode == 0, audited.stdout
    # Every finding the baseline keeps is in a file that is tracked.
    assert set(baseline["results"]) <= set(files)


def test_an_unaudited_finding_in_the_baseline_fails_the_check(tmp_path: Path) -> None:
    baseline = json.loads((REPO_ROOT / BASELINE).read_text())
    result = {"type": "Secret Keyword", "hashed_secret": "0" * 40, "line_number": 3}
    baseline["results"] = {"a.py": [result], "b.py": [{**result, "is_secret": True}]}
    (tmp_path / BASELINE).write_text(json.dumps(baseline))
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "check_secrets_baseline.py"), BASELINE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1
    assert "a.py:3: Secret Keyword (not audited)" in completed.stdout
    assert "b.py:3: Secret Keyword (audited as a real secret)" in completed.stdout


#: Profile keys that hold a credential (``pass`` is dbt-postgres's alias of ``password``).
CREDENTIAL_KEYS = {
    "user",
    "pass",
    "password",
    "private_key",
    "private_key_path",
    "private_key_passphrase",
    "token",
}


def test_profiles_read_every_credential_from_the_environment() -> None:
    profiles = yaml.safe_load((REPO_ROOT / "dbt_pipeline" / "profiles.yml").read_text())
    credentials = {
        (target, key): value
        for target, output in profiles["custseg"]["outputs"].items()
        for key, value in output.items()
        if key in CREDENTIAL_KEYS
    }
    # The targets that log in name their credentials (so this test has something to check).
    assert {("postgres", "user"), ("postgres", "pass"), ("snowflake", "password")} <= set(
        credentials
    )
    for (target, key), value in credentials.items():
        assert str(value).startswith("{{ env_var('"), (target, key, value)


def test_a_wrong_password_is_never_printed_nor_logged(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    data_dir = write_input_files(tmp_path / "data")
    root = copy_project(tmp_path / "project")
    wrong = "wrong-" + FAKE
    result = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(data_dir), "--project-dir", str(root), "--target", "postgres"],
        env={**postgres_server.libpq_env(), "PGPASSWORD": wrong, "CUSTSEG_SCHEMA": "custseg"},
    )
    assert result.exit_code == 2, result.output
    assert f"127.0.0.1:{postgres_server.port}" in result.output
    assert "password authentication failed" in result.output
    assert wrong not in result.output
    for path in root.rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes(), path


# ----------------------------------------------------------------- SQL from configuration


def test_a_hostile_schema_name_is_refused_before_any_sql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="CUSTSEG_SCHEMA=.* is not a plain SQL name"):
        PostgresSettings.from_environ(
            {"PGHOST": "h", "PGUSER": "u", "PGDATABASE": "d", "CUSTSEG_SCHEMA": HOSTILE}
        )
    monkeypatch.setenv("CUSTSEG_SCHEMA", HOSTILE)
    config = resolve_settings(
        data_dir=tmp_path, project_dir=copy_project(tmp_path / "p"), target="spark"
    )
    with pytest.raises(ConfigError, match="CUSTSEG_SCHEMA"):
        SparkWarehouse(config)


def test_quoted_identifiers_and_literals_cannot_break_out(tmp_path: Path) -> None:
    with duckdb.connect() as con:
        con.execute("create table victim as select 1 as x")
        name = quote_identifier(HOSTILE)
        column = quote_identifier('a" int); drop table victim; --')
        con.execute(f"create table {name} ({column} int)")
        assert con.execute("select count(*) from victim").fetchone() == (1,)
        assert con.execute(f"select * from {name}").fetchall() == []
    # A data folder whose path holds quotes and a semicolon is read as a path, nothing else.
    data_dir = write_input_files(tmp_path / 'it\'s "data"; drop table raw.online_sales; --')
    loaded = load_into_duckdb(tmp_path / "w.duckdb", data_dir)
    assert [t.row_count for t in loaded] == [2, 2, 1, 2, 1]


def test_logs_and_messages_hold_no_personal_data_beyond_customer_ids(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    generate_sample_data(data_dir, n_customers=300, seed=3)
    customers = data_dir / "CustomersData.csv"
    text = customers.read_text()
    customers.write_text(text.replace(",Chicago,", ",Xyzzyville,"))
    root = copy_project(tmp_path / "project")
    result = CliRunner().invoke(
        cli, ["run", "--data-dir", str(data_dir), "--project-dir", str(root)], env=CLEAN_ENV
    )
    assert result.exit_code == 0, result.output
    # The planted location went all the way through the run...
    with duckdb.connect(str(root / "dbt_pipeline" / "custseg.duckdb")) as con:
        (planted,) = con.execute(
            "select count(*) from raw.customers_data where location = 'Xyzzyville'"
        ).fetchone()
    assert planted == text.count(",Chicago,") > 0
    # ...and was never printed nor logged.
    assert "Xyzzyville" not in result.output
    logs = [p for p in (root / "dbt_pipeline" / "logs").rglob("*") if p.is_file()]
    artifacts = [p for p in (root / "dbt_pipeline" / "target").glob("*.json")]
    assert logs and artifacts
    for path in logs + artifacts:
        assert b"Xyzzyville" not in path.read_bytes(), path
