"""Names from configuration that end up in SQL text: only plain identifiers are accepted.

Table and column names are always quoted where custseg writes SQL (``raw_load.quote_identifier``,
``psycopg2.sql.Identifier``), but a schema name is also handed to dbt, which writes it into SQL
of its own (unquoted on Spark). So a schema name from the environment must be a plain name: no
quote, dot, space or semicolon can reach any SQL statement.
"""

from __future__ import annotations

import re

from custseg.errors import ConfigError

#: Letters, digits and underscores, not starting with a digit, at most 63 characters
#: (PostgreSQL's identifier limit).
PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def require_plain_identifier(value: str, setting: str) -> str:
    """Return ``value`` if it is a plain SQL name, else raise a ConfigError naming ``setting``.

    The message shows the value: a schema name is not a secret.
    """
    if not PLAIN_IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"{setting}={value!r} is not a plain SQL name. Use letters, digits and underscores, "
            "starting with a letter or an underscore, at most 63 characters (e.g. custseg_marts)."
        )
    return value
