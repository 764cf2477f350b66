"""A real, throwaway PostgreSQL server for the tests, started from the machine's binaries.

The server lives in a fresh temporary folder (data directory, unix socket, log), listens on
127.0.0.1 on a free port, runs without durability (``fsync=off``: nothing here must survive a
crash) and is stopped and deleted when the block ends, whatever happened inside it. As root,
``initdb`` and the server run as the ``postgres`` user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.machine import free_port, not_installed

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = "install the server with `apt-get install -y postgresql` (Debian/Ubuntu)"
SERVER_USER = "postgres"  # the OS user the server runs as when the tests run as root
DATABASE = "custseg_test"
ROLE = "custseg_test"  # the database superuser initdb creates; it logs in with a password


@dataclass(frozen=True)
class PostgresServer:
    """A running server and how to reach it."""

    host: str
    port: int
    user: str
    password: str
    database: str
    # Data directory, socket and log live here; deleted when the server stops.
    base_dir: Path
    # Seconds from initdb to a server accepting connections, for the report.
    start_seconds: float

    def connect_args(self, **more: str) -> dict[str, object]:
        """psycopg2.connect's arguments for this server's database (no PG* variables needed)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.database,
            **more,
        }

    def libpq_env(self) -> dict[str, str]:
        """The standard libpq variables that reach this server's database."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }


def find_server_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: on PATH, else Debian's versioned folder."""
    on_path = [shutil.which(program) for program in SERVER_PROGRAMS]
    if all(on_path):
        return Path(on_path[0]).resolve().parent  # type: ignore[arg-type]
    # A bare Debian keeps them in /usr/lib/postgresql/<major>/bin only; take the newest.
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    for initdb in reversed(candidates):
        folder = Path(initdb).parent
        if all((folder / program).is_file() for program in SERVER_PROGRAMS):
            return folder
    return None


def require_server_bin_dir() -> Path:
    """The server binaries' folder; fails in CI (``CI=true``) and skips elsewhere without them."""
    folder = find_server_bin_dir()
    if folder is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH nor under "
            f"/usr/lib/postgresql/*/bin: {INSTALL_HINT} to run the PostgreSQL tests"
        )
    elif os.geteuid() == 0 and not _user_exists(SERVER_USER):
        message = (
            f"running as root, the server must run as the '{SERVER_USER}' user, which does not "
            f"exist: {INSTALL_HINT} (it creates the user) to run the PostgreSQL tests"
        )
    else:
        return folder
    not_installed(message)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _as_server_user(argv: list[str]) -> list[str]:
    """Run ``argv`` as the postgres OS user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        # runuser lives in /usr/sbin, which a non-login PATH may lack.
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if runuser is None:
            raise RuntimeError("runuser (util-linux) not found: it runs the server as postgres")
        return [runuser, "-u", SERVER_USER, "--", *argv]
    return argv


def run_server_command(argv: list[str], what: str, log: Path | None = None) -> None:
    completed = subprocess.run(
        _as_server_user(argv), capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.is_file() else ""
        raise RuntimeError(
            f"{what} failed (exit {completed.returncode}):\n{completed.stdout[-2000:]}"
            f"{completed.stderr[-2000:]}{tail}"
        )


def _make_base_dir() -> Path:
    base_dir = Path(tempfile.mkdtemp(prefix="custseg-pg-"))
    if os.geteuid() == 0:
        server_user = pwd.getpwnam(SERVER_USER)
        os.chown(base_dir, server_user.pw_uid, server_user.pw_gid)
    base_dir.chmod(0o700)
    return base_dir


def _write_for_server(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)
    if os.geteuid() == 0:
        server_user = pwd.getpwnam(SERVER_USER)
        os.chown(path, server_user.pw_uid, server_user.pw_gid)


def _start_server(bin_dir: Path, data_dir: Path, base_dir: Path, log: Path) -> int:
    """Start the server on a free port and return the port.

    Another process can take the free port between our probe and the server's bind, so a failed
    start is retried on a new port.
    """
    attempts = 3
    for attempt in range(1, attempts + 1):
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            run_server_command(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "--wait",
                    "--timeout",
                    "60",
                    "--pgdata",
                    str(data_dir),
                    "--log",
                    str(log),
                    "--options",
                    options,
                ],
                "pg_ctl start",
                log,
            )
        except RuntimeError:
            if attempt == attempts or (data_dir / "postmaster.pid").exists():
                raise
            continue
        return port
    raise AssertionError("unreachable")


@contextlib.contextmanager
def running_postgres(bin_dir: Path, database: str = DATABASE) -> Iterator[PostgresServer]:
    """Start a fresh server with one empty database; stop it and delete its folder at the end.

    The role logs in with a password over TCP (scram-sha-256), so the tests go through the same
    authentication path as a real deployment; local socket connections are trusted.
    """
    import psycopg2  # the tests that need a server also need the adapter

    started = time.perf_counter()
    base_dir = _make_base_dir()
    data_dir = base_dir / "data"
    log = base_dir / "server.log"
    password = secrets.token_hex(16)
    try:
        password_file = base_dir / "password"
        _write_for_server(password_file, password + "\n")
        run_server_command(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                ROLE,
                "--pwfile",
                str(password_file),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            "initdb",
        )
        password_file.unlink()
        port = _start_server(bin_dir, data_dir, base_dir, log)
        with contextlib.closing(
            psycopg2.connect(
                host="127.0.0.1", port=port, user=ROLE, password=password, dbname="postgres"
            )
        ) as con:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'create database "{database}"')
        yield PostgresServer(
            host="127.0.0.1",
            port=port,
            user=ROLE,
            password=password,
            database=database,
            base_dir=base_dir,
            start_seconds=time.perf_counter() - started,
        )
    finally:
        try:
            if (data_dir / "postmaster.pid").exists():
                run_server_command(
                    [
                        str(bin_dir / "pg_ctl"),
                        "stop",
                        "--mode",
                        "fast",
                        "--wait",
                        "--pgdata",
                        str(data_dir),
                    ],
                    "pg_ctl stop",
                    log,
                )
        finally:
            shutil.rmtree(base_dir, ignore_errors=True)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block only; restore (or remove) them afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield
