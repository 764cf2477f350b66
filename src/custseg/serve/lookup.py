"""A customer's latest segment: live from the state store, else from the published segments.

:class:`PublishedSegments` holds the last run's ``customer_segments.csv`` in memory, read at
start-up and again whenever a run publishes a new one (the file is looked at, with a ``stat``,
at most once per check interval, as the model file is). :class:`StateStore` reads the segment
``custseg consume`` keeps per customer in Redis (:mod:`custseg.live.state_store`).
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path
from typing import Any

from custseg.errors import ConfigError, masked
from custseg.live.state_store import CustomerSegment, read_segment

#: How long a Redis call may take before the service gives up on it (seconds).
REDIS_TIMEOUT = 1.0


class PublishedSegments:
    """The published ``customer_segments.csv``: customer id -> (segment id, segment name).

    A file that is missing or unreadable at a check keeps the last table; the error is kept in
    :attr:`error` for the readiness check.
    """

    def __init__(self, path: Path, *, check_interval: float) -> None:
        self.path = Path(path)
        self.check_interval = check_interval
        self.error: str | None = None
        self._lock = threading.Lock()
        self._state: tuple[int, int, int] | None = None
        self._table: dict[str, tuple[int, str]] = {}
        self._next_check = 0.0
        self.refresh()

    def get(self, customer_id: str) -> tuple[int, str] | None:
        """The customer's published segment id and name, or None when not published."""
        if time.monotonic() >= self._next_check:
            self.refresh()
        return self._table.get(customer_id)

    def __len__(self) -> int:
        return len(self._table)

    def refresh(self) -> bool:
        """Read the file again if it changed; returns whether a new table is in use."""
        # A reader that finds the lock taken keeps the current table rather than wait.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._next_check = time.monotonic() + self.check_interval
            try:
                status = os.stat(self.path)
            except OSError as exc:
                self.error = f"cannot read {self.path.name}: {exc.strerror}"
                return False
            state = (status.st_ino, status.st_mtime_ns, status.st_size)
            if state == self._state:
                return False
            try:
                self._table = read_segments_csv(self.path)
            except (OSError, ValueError, KeyError) as exc:
                self.error = f"cannot read {self.path.name}: {exc}"
                return False
            self._state = state
            self.error = None
            return True
        finally:
            self._lock.release()


def read_segments_csv(path: Path) -> dict[str, tuple[int, str]]:
    """``customer_id,segment_id,segment_name`` rows as customer id -> (id, name)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {
            row["customer_id"]: (int(row["segment_id"]), row["segment_name"])
            for row in csv.DictReader(handle)
        }


class StateStoreUnavailable(RuntimeError):
    """Redis did not answer (down, unreachable, too slow)."""


class StateStore:
    """The consumer's live segments in Redis at ``url``, keys under ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - the serve extra installs it
            raise ConfigError(
                "--redis-url needs the redis package: pip install 'custseg[serve]'."
            ) from None
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
            )
        except ValueError as exc:
            raise ConfigError(f"--redis-url is not a Redis URL ({exc}).") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.prefix = prefix

    def get(self, customer_id: str) -> CustomerSegment | None:
        """The customer's live segment, or None when the consumer has not scored them."""
        try:
            return read_segment(self._client, self.prefix, customer_id)
        except self._errors as exc:
            raise StateStoreUnavailable(
                f"the state store did not answer: {masked(str(exc))}"
            ) from None
        except (KeyError, ValueError) as exc:
            raise StateStoreUnavailable(
                f"the state store holds a malformed segment for this customer ({exc!r})"
            ) from None

    def reachable(self) -> bool:
        """Whether Redis answers a PING now."""
        try:
            return bool(self._client.ping())
        except self._errors:
            return False

    def close(self) -> None:
        self._client.close()
