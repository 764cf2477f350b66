"""Exceptions raised by the custseg library.

The CLI turns every :class:`CustsegError` into a one-paragraph message and its exit code;
anything else is a bug and keeps its traceback. Errors about a value a caller passed are also
:class:`ValueError` s, as scikit-learn users expect from an estimator (``except ValueError``).
"""


class CustsegError(Exception):
    """Base class for errors a user can act on."""

    exit_code = 1


class ConfigError(CustsegError, ValueError):
    """A setting is missing, malformed or contradicts another setting."""

    exit_code = 2


class InputDataError(CustsegError, ValueError):
    """A raw input file is missing, unreadable or breaks a documented rule."""

    exit_code = 3


class InsufficientDataError(CustsegError, ValueError):
    """The data cannot support the requested model (too few customers, no variation)."""

    exit_code = 3


class SegmentationError(CustsegError):
    """The model could not be fitted or named as configured."""

    exit_code = 4


class ModelIntegrityError(CustsegError):
    """A saved model file is truncated, tampered with or from an incompatible version."""

    exit_code = 4


class PublishError(CustsegError):
    """The segments CSV failed validation or the dbt build and was not published."""

    exit_code = 5


class DbtError(CustsegError):
    """A dbt invocation failed; the message lists the failing nodes."""

    exit_code = 5


class LockError(CustsegError):
    """Another process holds what the run needs: the project, the DuckDB file, a locked table."""

    exit_code = 6


class StorageError(CustsegError):
    """A file or folder could not be read or written: disk full, permission denied, read-only."""

    exit_code = 7


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (engine errors run over many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
