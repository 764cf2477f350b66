"""Secrets and safety: no credential in tracked files, none printed, no SQL from configuration.

The planted credentials below are assembled at run time so that this file itself holds none.
"""

from __future__ import annotations

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

SCAN = [sys.executable, str(REPO_ROOT / "scripts" / "secret_scan.py")]
HOSTILE = 'seg"; drop schema raw cascade; --'
# Credential-like text is written with "~" inside its key words and values, removed when the
# file is planted, so that this file itself holds no credential for the scan to find.
FAKE = "hunter2-x9q"
FAKE_KEY_ID = "AKIA~Q3EXAMPLE7KEY9ZZ".replace("~", "")


def planted(text: str) -> str:
    return text.replace("~", "")


PLANTED = {
    "config.yml": ("pass~word: " + FAKE + "\n", "literal value assigned to 'password'"),
    "settings.py": ('API_TO~KEN = "' + FAKE + '"\n', "literal value assigned to 'API_TOKEN'"),
    "env.py": ('{"PGPASS~WORD": "' + FAKE + '"}\n', "literal value assigned to 'PGPASSWORD'"),
    "db.ini": ("url = postgresql://bob:" + FAKE + "@db.example.com/x\n", "URL with a password"),
    "aws.toml": ('aws_access~_key_id = "' + FAKE_KEY_ID + '"\n', "AWS access key id"),
    "grant.sql": ("create role bob login pass~word '" + FAKE + "';\n", "in SQL"),
    "deploy_key.txt": (
        "-----BEGIN OPENSSH PRIVATE~ KEY-----\nb3BlbnNzaC1rZXk=\n",
        "private key block",
    ),
    ".env": ("DATABASE_URL_X=1\n", "a key or credential file is tracked"),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_credential_is_found_and_its_value_not_printed(name: str, tmp_path: Path) -> None:
    text, finding = PLANTED[name]
    (tmp_path / name).write_text(planted(text))
    completed = subprocess.run(
        [*SCAN, "--root", str(tmp_path), name], capture_output=True, text=True
    )
    assert completed.returncode == 1, completed.stdout
    assert f"{name}:1: " in completed.stdout and finding in completed.stdout
    assert FAKE not in completed.stdout and FAKE_KEY_ID not in completed.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("profiles.yml", "    pass~word: \"{{ env_var('PGPASSWORD', '') }}\"\n"),
        ("settings.py", 'pass~word = os.environ["PGPASSWORD"]\n'),
        ("settings.py", 'PASS~WORD_ENV = "PGPASSWORD"\n'),
        ("settings.py", "to~ken = secrets.token_hex(16)\n"),
        ("settings.py", 'help="the pass~word: PGPASSWORD or ~/.pgpass"\n'),
        ("README.md", "export PGHOST=db.internal PGPASS~WORD=...\n"),
        ("profiles.yml", "# This file holds no sec~ret: every credential comes from env_var().\n"),
    ],
)
def test_references_to_secrets_are_not_findings(name: str, text: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(planted(text))
    completed = subprocess.run(
        [*SCAN, "--root", str(tmp_path), name], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout


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
