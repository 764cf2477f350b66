"""What the scoring service is configured with: one typed dataclass, checked once at start-up.

The command line (:mod:`custseg.cli_serve`) builds a :class:`ServeConfig` from its options and
the environment; tests and embedders build one directly and pass it to
:func:`custseg.serve.app.create_app`. The bearer token comes only from the environment variable
:data:`TOKEN_ENV` (never a flag or a file, so it never shows in ``ps`` or in a shell history).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from custseg.errors import ConfigError
from custseg.live.features import as_of_counting_today
from custseg.live.scoring import DEFAULT_CHECK_INTERVAL
from custseg.live.state_store import DEFAULT_PREFIX

#: The environment variable holding the bearer token that requests must present.
TOKEN_ENV = "CUSTSEG_SERVE_TOKEN"
#: Shortest token accepted: a guessable token is no protection.
MIN_TOKEN_LENGTH = 16
#: Largest request body accepted, in bytes, unless configured (1 MiB).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Most customers one scoring request may hold, unless configured.
DEFAULT_MAX_BATCH = 10_000


@dataclass(frozen=True)
class ServeConfig:
    """The scoring service's settings (every default is safe for a loopback deployment)."""

    # The published model file (ml_pipeline/models/segment_model.json of a project).
    model_path: Path
    # The published segments CSV (customer_id,segment_id,segment_name) that answers
    # GET /v1/customers/{id} when the state store has no live segment; None: no lookup table.
    segments_path: Path | None = None
    # Requests with a larger body get 413 before any of it is parsed.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Scoring requests with more customers get 413.
    max_batch: int = DEFAULT_MAX_BATCH
    # The bearer token every /v1 request must present; None: no authentication (loopback only).
    token: str | None = None
    # Redis URL of the state store kept by `custseg consume` (redis://host:port/db); None: none.
    redis_url: str | None = None
    # Key prefix of the state store (custseg.live.state_store).
    redis_prefix: str = DEFAULT_PREFIX
    # As-of date of the order form when a request gives none; None: the clock's today + 1 day
    # (UTC), so that orders up to and including today count.
    as_of_date: dt.date | None = None
    # How often, at most, the model and segments files are looked at for a new publication.
    reload_interval: float = DEFAULT_CHECK_INTERVAL

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"--max-body-bytes must be >= 1, got {self.max_body_bytes}.")
        if self.max_batch < 1:
            raise ConfigError(f"--max-batch must be >= 1, got {self.max_batch}.")
        if self.reload_interval < 0:
            raise ConfigError(f"--reload-interval must be >= 0, got {self.reload_interval}.")
        if not self.redis_prefix or any(c.isspace() for c in self.redis_prefix):
            raise ConfigError("--redis-prefix must be non-empty text without spaces.")
        if self.token is not None:
            check_token(self.token)

    def default_as_of_date(self, today: dt.date | None = None) -> dt.date:
        """The order form's as-of date when a request gives none."""
        if self.as_of_date is not None:
            return self.as_of_date
        return as_of_counting_today(today)


def check_token(token: str) -> None:
    """Refuse a token that protects nothing: too short, or with spaces or control characters.

    Raises
    ------
    ConfigError
        Naming :data:`TOKEN_ENV` and what to set instead; the token itself is never printed.
    """
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{TOKEN_ENV} is set but shorter than {MIN_TOKEN_LENGTH} characters. Set it to a "
            "long random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            ") or unset it to serve without authentication."
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            f"{TOKEN_ENV} holds spaces, control or non-ASCII characters, which cannot travel in "
            "an Authorization header. Use letters, digits and punctuation only."
        )


def token_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token of :data:`TOKEN_ENV`, checked; None when the variable is unset.

    Raises
    ------
    ConfigError
        The variable is set but empty or unusable (see :func:`check_token`).
    """
    value = (os.environ if environ is None else environ).get(TOKEN_ENV)
    if value is None:
        return None
    if not value:
        raise ConfigError(
            f"{TOKEN_ENV} is set but empty. Set it to a long random value, or unset it to serve "
            "without authentication."
        )
    check_token(value)
    return value
