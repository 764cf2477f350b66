"""Exceptions raised by the custseg library.

The CLI turns every :class:`CustsegError` into a one-paragraph message and a non-zero exit code;
anything else is a bug and keeps its traceback.
"""


class CustsegError(Exception):
    """Base class for errors a user can act on."""

    exit_code = 1


class ConfigError(CustsegError):
    """A setting is missing, malformed or contradicts another setting."""

    exit_code = 2


class InputDataError(CustsegError):
    """A raw input file is missing, unreadable or breaks a documented rule."""

    exit_code = 3


class InsufficientDataError(CustsegError):
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
    """Another custseg run holds the lock on this project or DuckDB file."""

    exit_code = 6
