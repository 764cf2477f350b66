"""Exceptions raised by the custseg library, and the one way secrets are kept out of messages.

The CLI turns every :class:`CustsegError` into a one-paragraph message and its exit code;
anything else is a bug and keeps its traceback, except the operating system's storage faults
(disk full, permission denied, read-only), which :func:`storage_error` turns into a
:class:`StorageError` naming the path. Errors about a value a caller passed are also
:class:`ValueError` s, as scikit-learn users expect from an estimator (``except ValueError``).
"""

import errno
import os
import re


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


class DbtLockError(DbtError, LockError):
    """dbt stopped because another session holds a table or the DuckDB file it needs."""

    exit_code = 6


class StorageError(CustsegError):
    """A file or folder could not be read or written: disk full, permission denied, read-only."""

    exit_code = 7


class DbtStorageError(DbtError, StorageError):
    """dbt stopped because a file it writes (the DuckDB file, target/, logs/) cannot be written."""

    exit_code = 7


#: The storage faults a user can fix (errno -> what it means); any other OSError is a bug.
STORAGE_FAULTS: dict[int, str] = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (an immutable or protected file)",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file where a folder is expected",
    errno.EISDIR: "it is a folder where a file is expected",
}


def storage_error(exc: OSError, path: object = None, doing: str = "write") -> StorageError | None:
    """The :class:`StorageError` of a storage fault (see :data:`STORAGE_FAULTS`), else None.

    ``path`` names what was being written (default: the path the OS names).
    """
    reason = STORAGE_FAULTS.get(exc.errno or 0)
    if reason is None:
        return None
    where = path if path is not None else (exc.filename or "a file")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "Free some space on that disk (or choose another --project-dir), then run again"
    else:
        advice = (
            "Make it writable by the user running custseg (or choose another --project-dir or "
            "--duckdb-path), then run again"
        )
    return StorageError(f"Cannot {doing} {where}: {reason} ({exc.strerror}). {advice}.")


#: How engines word the storage faults of STORAGE_FAULTS: the operating system's own text after
#: the file's path, as DuckDB (``Could not write file "x": No space left on device``) and Python
#: inside dbt (``[Errno 28] No space left on device: 'x'``) write it. Anchored on the path, so
#: neither PostgreSQL's "permission denied for schema" nor a data value quoted in a message is
#: taken for one.
_OS_WORDS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Permission denied": errno.EACCES,
    "Read-only file system": errno.EROFS,
}
_WORDS = "|".join(re.escape(words) for words in _OS_WORDS)
_ENGINE_FAULT = re.compile(
    rf'file "(?P<path>[^"]+)": (?P<words>{_WORDS})'
    rf"|\[Errno \d+\] (?P<words2>{_WORDS}): '(?P<path2>[^']+)'"
)


def storage_error_in(exc: BaseException | str) -> StorageError | None:
    """The storage fault an engine reports in words in ``exc``, its causes, or a text; None
    when there is none."""
    seen: BaseException | str | None = exc
    while seen is not None:
        match = _ENGINE_FAULT.search(str(seen))
        if match:
            path = match["path"] or match["path2"]
            number = _OS_WORDS[match["words"] or match["words2"]]
            doing = "open" if number == errno.EACCES else "write"
            return storage_error(OSError(number, os.strerror(number), path), path, doing)
        seen = seen.__cause__ if isinstance(seen, BaseException) else None
    return None


def exit_code_of(error: CustsegError) -> int:
    """The exit code of ``error``: a lock or storage fault keeps its own code (6, 7) even when
    another error wraps it (a failed publication names what it restored around it)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, LockError | StorageError):
            return cause.exit_code
        cause = cause.__cause__
    return error.exit_code


_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)[^\s@/]*(?=@)")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE
)


def masked(text: str) -> str:
    """``text`` with the password of every connection URI or ``password=`` setting replaced by
    ``***`` (``postgresql://user:***@host/db``)."""
    text = _URI_PASSWORD.sub(r"\g<head>***", text)
    return _KEYWORD_PASSWORD.sub(r"\g<head>***", text)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (engine errors run over many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
