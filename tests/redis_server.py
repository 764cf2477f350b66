"""A real, throwaway Redis server for the tests, started from the machine's ``redis-server``.

The server runs in a fresh temporary folder, listens on 127.0.0.1 on a free port, keeps nothing
on disk (no RDB snapshots, no append-only file: the tests' kill -9 is of the consumer, never of
the server) and is stopped and deleted when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.machine import free_port, not_installed

INSTALL_HINT = "install it with `apt-get install -y redis-server` (Debian/Ubuntu)"


@dataclass(frozen=True)
class RedisServer:
    """A running server and how to reach it."""

    host: str
    port: int
    # Log and working folder; deleted when the server stops.
    base_dir: Path

    @property
    def url(self) -> str:
        """The server's URL, database 0 (what ``--redis-url`` takes)."""
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> object:
        """A new ``redis.Redis`` client of database 0 (bytes in, bytes out)."""
        import redis

        return redis.Redis(host=self.host, port=self.port, db=0)


def require_redis_server() -> str:
    """The ``redis-server`` program; fails in CI (``CI=true``) and skips elsewhere without it."""
    program = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/sbin")
    if program is not None:
        return program
    message = f"redis-server not found on PATH: {INSTALL_HINT} to run the stream tests"
    not_installed(message)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start(program: str, base_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the server on a free port; another process can take the port between the probe
    and the bind, so a failed start is retried on a new port."""
    attempts = 3
    for attempt in range(1, attempts + 1):
        port = free_port()
        process = subprocess.Popen(
            [
                program,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(base_dir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--logfile", str(log),
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if _answers_ping(port):
                return process, port
            time.sleep(0.02)
        process.kill()
        process.wait(timeout=10)
        if attempt == attempts:
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise RuntimeError(f"redis-server did not start on 127.0.0.1:{port}:\n{tail}")
    raise AssertionError("unreachable")


@contextlib.contextmanager
def running_redis(program: str) -> Iterator[RedisServer]:
    """Start a fresh, empty server; stop it and delete its folder at the end."""
    base_dir = Path(tempfile.mkdtemp(prefix="custseg-redis-"))
    process = None
    try:
        process, port = _start(program, base_dir, base_dir / "server.log")
        yield RedisServer(host="127.0.0.1", port=port, base_dir=base_dir)
    finally:
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        finally:
            shutil.rmtree(base_dir, ignore_errors=True)
