"""What the tests need of the machine: a free loopback port, and what to do when a program the
tests run (a database server, a browser, Java) is not installed."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """Whether the tests run in CI (env ``CI``), where everything they need must be installed."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def not_installed(message: str) -> NoReturn:
    """Fail in CI (its set-up installs everything), skip elsewhere, saying what is missing."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
