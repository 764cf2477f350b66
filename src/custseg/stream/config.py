"""How the consumer reads and where it writes: its settings, with the defaults of
``custseg consume``, and the error of a Redis that does not answer.

Nothing here imports the Redis client, so the command line loads without the ``stream`` extra.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from custseg.errors import ConfigError, CustsegError, masked
from custseg.live.state_store import DEFAULT_PREFIX, REDIS_URL_ENV
from custseg.stream.state import DEFAULT_GROUP, DEFAULT_STREAM, StreamKeys

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class RedisUnavailableError(CustsegError):
    """Redis cannot be reached, or stopped answering for longer than the reconnect timeout."""

    exit_code = 9


@dataclass(frozen=True)
class ConsumerConfig:
    """How the consumer reads and where it writes (defaults: those of ``custseg consume``)."""

    stream: str = DEFAULT_STREAM
    group: str = DEFAULT_GROUP
    # Stable across restarts, so that a restarted consumer finds its own pending entries.
    consumer: str = "consumer-1"
    prefix: str = DEFAULT_PREFIX
    # Orders dated before it count; None: the UTC date of each batch plus one day.
    as_of_date: dt.date | None = None
    batch_size: int = 1000
    block_ms: int = 1000
    # Stop after this many seconds without a new event (None: run until stopped).
    until_idle: float | None = None
    # Stop after this many events (None: no limit).
    max_events: int | None = None
    # Take over another consumer's entries pending for this long (milliseconds).
    claim_idle_ms: int = 60_000
    # Give up after Redis failed to answer for this long (seconds).
    reconnect_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("stream", "group", "consumer", "prefix"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is empty: name the {name.replace('_', ' ')}")
        if self.batch_size < 1 or self.block_ms < 1 or self.claim_idle_ms < 1:
            raise ConfigError("batch_size, block_ms and claim_idle_ms must be at least 1")

    @property
    def keys(self) -> StreamKeys:
        return StreamKeys(stream=self.stream, prefix=self.prefix)


def redis_client(url: str) -> Any:
    """A ``redis.Redis`` client of ``url`` (bytes in and out; nothing is sent yet).

    Raises
    ------
    ConfigError
        The ``stream`` extra is not installed, or ``url`` is not a Redis URL.
    """
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "custseg consume needs the Redis client: pip install 'custseg[stream]'"
        ) from None
    try:
        return redis.Redis.from_url(url, health_check_interval=30)
    except ValueError as error:
        raise ConfigError(
            f"--redis-url ({REDIS_URL_ENV}) is not a Redis URL ({masked(str(error))}); write "
            "redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS"
        ) from None
