"""detect-secrets plugins for what its own detectors miss in this project.

Registered in ``.secrets.baseline`` (``plugins_used``, each with the ``path`` of this file,
relative to the repository root, where ``make lint`` runs):

- :class:`DbtProfilePassDetector`: a literal value of dbt's ``pass:`` key (dbt-postgres'
  alias of ``password``; detect-secrets' KeywordDetector knows ``password`` but not ``pass``),
  and of ``token:`` in YAML files (dbt-databricks and others). A value read with
  ``env_var('NAME')`` is not a secret; a non-empty default of ``env_var`` is one, since it is
  written in the file.
- :class:`SqlPasswordDetector`: a password literal in SQL (``create role bob password '...'``,
  ``identified by '...'``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector

_YAML_SUFFIXES = (".yml", ".yaml")
# The key starts the line (`pass: x`, `- pass: x`), is quoted (`"pass": "x"`, JSON and Python
# dicts) or follows `{` or `,` (a YAML flow mapping); prose such as "Nulls pass: pair" is not a
# key. `token` counts only in YAML files: a Python annotation `token: str` is not a credential.
_KEY = r"""
    (?: ^\s*(?:-\s+)? | [{{,]\s* | (?=["']) )  # where a key may start
    ["']?{key}["']?\s*:\s*                      # the key, maybe quoted, and its colon
    (?P<value>.*)$
"""
_PASS = re.compile(_KEY.format(key="pass"), re.IGNORECASE | re.VERBOSE)
_TOKEN = re.compile(_KEY.format(key="token"), re.IGNORECASE | re.VERBOSE)
# A dbt Jinja value: `{{ env_var('PGPASSWORD', '') }}`, maybe with a filter.
_ENV_VAR_DEFAULT = re.compile(r"""env_var\(\s*(['"])[^'"]*\1\s*,\s*(['"])(?P<default>[^'"]*)\2""")
_NOT_A_VALUE = {"", "~", "null", "none", "true", "false"}


def _literal(value: str) -> str:
    """The value without its quotes, what ends a flow mapping's item, and a YAML comment."""
    value = value.strip()
    if value and value[0] in "'\"":
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return re.split(r"\s+#|[,}]", value, maxsplit=1)[0].strip()


def _secrets_in_value(value: str) -> Iterator[str]:
    text = _literal(value)
    if "{{" in text or "{%" in text:
        # Computed by dbt: only a default written in the file is a secret.
        for match in _ENV_VAR_DEFAULT.finditer(text):
            if match.group("default"):
                yield match.group("default")
        return
    if text.lower() in _NOT_A_VALUE or text.startswith("$"):
        return  # empty, null, or a shell/CI variable
    yield text


class DbtProfilePassDetector(BasePlugin):
    """A literal password under dbt's ``pass:`` key, or a literal ``token:`` in YAML."""

    secret_type = "dbt profile credential"

    def analyze_line(
        self, filename: str, line: str, line_number: int = 0, **kwargs: Any
    ) -> set[PotentialSecret]:
        patterns = [_PASS, _TOKEN] if filename.endswith(_YAML_SUFFIXES) else [_PASS]
        return {
            PotentialSecret(
                type=self.secret_type, filename=filename, secret=secret, line_number=line_number
            )
            for pattern in patterns
            if (match := pattern.search(line))
            for secret in _secrets_in_value(match.group("value"))
        }

    def analyze_string(self, string: str) -> Iterator[str]:
        for pattern in (_PASS, _TOKEN):
            if match := pattern.search(string):
                yield from _secrets_in_value(match.group("value"))


class SqlPasswordDetector(RegexBasedDetector):
    """A password literal in SQL: ``... password '...'`` or ``identified by '...'``."""

    secret_type = "SQL password literal"
    denylist = (re.compile(r"(?i)\b(?:password|identified\s+by)\s+'([^'\s][^']*)'"),)
