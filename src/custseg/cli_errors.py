"""How a command reports an error a user can act on: a message on stderr (and, with --json, the
same error as JSON on stdout) and the documented exit code (see custseg.cli_options)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click

from custseg.errors import CustsegError, exit_code_of, masked, storage_error


class ErrorOutput:
    """Whether ``--json`` was given: set by the command group before any option is parsed, so
    that a usage error can be JSON too."""

    wants_json = False


def _fail(error: CustsegError) -> None:
    notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
    # masked: the last guard against a connection URI's password in an engine's message.
    exit_with(masked(f"{error}{notes}"), exit_code_of(error))


def exit_with(message: str, code: int, prefix: str = "Error: ") -> None:
    """Say ``message`` on stderr (and, with --json, as JSON on stdout) and exit ``code``."""
    if ErrorOutput.wants_json:
        click.echo(json.dumps({"error": message, "exit_code": code}, indent=2))
    click.secho(f"{prefix}{message}", fg="red", err=True)
    sys.exit(code)


@contextlib.contextmanager
def errors_reported() -> Iterator[None]:
    """Turn the errors a user can act on into a message and an exit code (see :func:`_fail`)."""
    try:
        yield
    except CustsegError as error:
        _fail(error)
    except OSError as error:
        _fail_storage(error)


def _fail_storage(error: OSError) -> None:
    """A storage fault the library did not name (disk full, permission denied) as a message
    and exit code 7; any other OSError is a bug and keeps its traceback."""
    storage = storage_error(error)
    if storage is None:
        raise error
    _fail(storage)
