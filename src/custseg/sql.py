"""Names and values that custseg writes into SQL text: quoted, or refused when they cannot be.

Table and column names are always quoted where custseg writes SQL (:func:`quote_identifier`, or
``psycopg2.sql.Identifier`` on PostgreSQL), and text values are quoted literals
(:func:`quote_literal`). A schema name, though, is also handed to dbt, which writes it into SQL
of its own (unquoted on Spark). So a schema name from the environment must be a plain name: no
quote, dot, space or semicolon can reach any SQL statement (:func:`require_plain_identifier`).
"""

from __future__ import annotations

import re

from custseg.errors import ConfigError

#: Letters, digits and underscores, not starting with a digit, at most 63 characters
#: (PostgreSQL's identifier limit).
PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def quote_identifier(name: str) -> str:
    """Quote an identifier for SQL so that no name can break out of it."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + value.replace("'", "''") + "'"


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
