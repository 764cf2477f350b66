"""A throwaway Snowflake emulator for the tests: ``fakesnow`` in server mode, in its own process.

fakesnow (https://github.com/tekumara/fakesnow) answers Snowflake's HTTP protocol and runs the
SQL on an in-memory DuckDB. In server mode the real ``snowflake-connector-python`` and
dbt-snowflake connect to it over a real network connection, as to an account: account
``fakesnow``, any user and password, host 127.0.0.1, the server's port, protocol http. Every
session shares one in-memory database, so what custseg loads, dbt sees. The process listens on
127.0.0.1 on a free port and is stopped (SIGINT, which fakesnow handles) when the block ends.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.machine import free_port, not_installed

INSTALL_HINT = "pip install 'fakesnow[server]' (in the dev extra: make install)"
#: Seconds to wait for the server to accept connections.
START_TIMEOUT_SECONDS = 60
#: What fakesnow logs when it cannot run a statement (a gap of the emulator). It then answers
#: HTTP 500, which snowflake-connector-python retries without end: the tests would hang.
UNHANDLED = b"Unhandled exception"


@dataclass(frozen=True)
class FakesnowServer:
    """A running emulator and how to reach it."""

    port: int
    # Any password is accepted; a random one shows that none is printed or logged.
    password: str
    # The server's output (uvicorn's log and fakesnow's), for a failing test's message.
    log: Path
    # Seconds from the start of the process to a server accepting connections.
    start_seconds: float
    host: str = "127.0.0.1"
    user: str = "custseg_test"
    database: str = "CUSTSEG_TEST"
    warehouse: str = "CUSTSEG_WH"

    def snowflake_env(self) -> dict[str, str]:
        """The variables the ``snowflake`` profile and custseg's warehouse read."""
        return {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": self.user,
            "SNOWFLAKE_PASSWORD": self.password,
            "SNOWFLAKE_WAREHOUSE": self.warehouse,
            "SNOWFLAKE_DATABASE": self.database,
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def connect_args(self) -> dict[str, object]:
        """Keyword arguments of ``snowflake.connector.connect`` for the tests' own queries."""
        return {
            "account": "fakesnow",
            "user": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
            "protocol": "http",
            "database": self.database,
        }


def require_fakesnow() -> None:
    """Skip without fakesnow's server extra (fail in CI, where the dev extra installs it)."""
    if all(importlib.util.find_spec(name) for name in ("fakesnow", "uvicorn", "starlette")):
        return
    message = f"fakesnow with its server extra is not installed: {INSTALL_HINT}"
    not_installed(message)


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_fakesnow() -> Iterator[FakesnowServer]:
    """Start ``python -m fakesnow -s`` on a free loopback port; stop it when the block ends.

    Another process can take the free port between the probe and the server's bind: a server
    that exits at once is started again on a new port.
    """
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="custseg-fakesnow-"))
    log = folder / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        for _attempt in range(3):
            port = free_port()
            with log.open("ab") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "fakesnow", "-s"]
                    + ["--host", "127.0.0.1", "-p", str(port)],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=folder,
                    # The stages' files go to a temporary folder of the server: this one.
                    env={**os.environ, "TMPDIR": str(folder)},
                )
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while process.poll() is None and not _accepts(port):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fakesnow did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            if process.poll() is None:
                break
        else:
            raise RuntimeError(f"fakesnow exited at start: {log.read_text()[-2000:]}")
        with interrupt_on_unhandled(log):
            yield FakesnowServer(
                port=port,
                password=secrets.token_hex(16),
                log=log,
                start_seconds=time.perf_counter() - started,
            )
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def interrupt_on_unhandled(log: Path) -> Iterator[None]:
    """Interrupt the tests (SIGINT: KeyboardInterrupt in the main thread, teardown still runs)
    as soon as the server logs a statement it could not run, rather than hang while the
    connector retries it; the server's message is printed first."""
    stop = threading.Event()

    def watch() -> None:
        offset = 0
        while not stop.wait(1.0):
            with log.open("rb") as handle:
                # Read on from the last look (a little before, for a line cut in two).
                position = max(offset - len(UNHANDLED), 0)
                handle.seek(position)
                text = handle.read()
            offset = position + len(text)
            if UNHANDLED in text:
                start = text.index(UNHANDLED)
                message = text[max(start - 1500, 0) : start + 3000].decode(errors="replace")
                sys.stderr.write(f"\nfakesnow could not run a statement (HTTP 500):\n{message}\n")
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=watch, name="fakesnow-watchdog", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
