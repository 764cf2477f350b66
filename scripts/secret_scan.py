"""Scan the files git tracks for credentials; part of ``make lint``.

Usage::

    python scripts/secret_scan.py                # every file `git ls-files` lists
    python scripts/secret_scan.py FILE [FILE...] # these files only (relative to --root)

Exit code 0 when nothing is found, 1 with one line per finding (``path:line: what``), 2 when the
files cannot be listed. A finding names the file, the line and the kind of credential, never the
value, so the scan's own output cannot leak what it found.

What counts as a credential:

- a private key block (``-----BEGIN ... PRIVATE KEY-----``);
- an AWS access key id (``AKIA...``), a GitHub or Slack token;
- a URL with a password (``scheme://user:password@host``), a password literal in SQL
  (``... password '...'``);
- a literal value assigned to a name that says password, secret, token, API key, access key or
  passphrase, in any text file (``password: hunter2``, ``API_TOKEN = "..."``,
  ``"PGPASSWORD": "..."``). Not a credential: a value read from the environment (dbt's
  ``env_var()``, ``${VAR}``, ``$VAR``, ``os.environ``), a Python expression (an unquoted name),
  the name of an environment variable (``"PGPASSWORD"``), prose (a quoted value with spaces),
  an empty value and the placeholders ``...``, ``***``, ``xxx`` and ``<...>``;
- a tracked key or credential file (``id_rsa``, ``*.pem``, ``*.key``, ``.env``, ``.pgpass``).

Fake credentials the test suite needs are listed in :data:`ALLOWED`, each with its reason.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: (path pattern, exact value, why it is not a credential). Keep this list short.
ALLOWED: tuple[tuple[str, str, str], ...] = (
    (
        "tests/test_postgres.py",
        "secret",
        "checks that PostgresSettings never shows PGPASSWORD; no server involved",
    ),
    (
        "tests/test_postgres.py",
        "not-the-password-42",
        "a deliberately wrong password against the throwaway test server",
    ),
    (
        "tests/test_postgres.py",
        "reader-pw-7",
        "password of a role the test creates on the throwaway test server",
    ),
)

_NAME = (
    r"[A-Za-z0-9_.-]*"
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|passphrase)"
    r"[A-Za-z0-9_.-]*"
)
ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?<![A-Za-z0-9_])(?P<key>{_NAME})['"]?      # a credential-like name, maybe a quoted key
    \s*(?::|=)(?!=)\s*                          # : or = (not ==)
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,;#)}}\]]+)  # a quoted or bare value
    """
)
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
)
SQL_PASSWORD = re.compile(r"(?i)\b(?:password|identified by)\s+(?P<value>'[^'\n]+')")
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<value>[^/\s@'\"]+)@")
CREDENTIAL_FILES = (
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    ".env",
    ".env.*",
    ".pgpass",
    ".netrc",
    "credentials.json",
)
_PLACEHOLDER = re.compile(r"(?i)\.{3}|\*+|x{3,}|<[^>]*>|")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_FROM_ENVIRONMENT = ("{{", "${", "env_var(", "os.environ", "getenv(")
_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def is_literal_secret(path: str, value: str, *, in_comment: bool = False) -> bool:
    """Whether an assigned value is a literal credential rather than a reference or prose.

    In a comment only a quoted value counts: "holds no secret: every value..." is prose.
    """
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    text = value[1:-1] if quoted else value
    if in_comment and not quoted:
        return False
    if any(marker in value for marker in _FROM_ENVIRONMENT) or text.startswith("$"):
        return False
    if _PLACEHOLDER.fullmatch(text) or _ENV_NAME.fullmatch(text):
        return False
    if quoted and any(ch.isspace() for ch in text):
        return False  # prose: a message or a help text
    if not quoted and path.endswith(".py"):
        return False  # a Python expression: a name, a call, an annotation
    if not quoted and text.lower() in {"true", "false", "null", "none", "str", "int"}:
        return False
    return not any(
        fnmatch.fnmatch(path, pattern) and text == allowed for pattern, allowed, _ in ALLOWED
    )


def scan_text(path: str, text: str) -> list[Finding]:
    """Findings in one file's text."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        in_comment = line.lstrip().startswith(("#", "//", "--", "{#"))
        for what, pattern in PATTERNS:
            if pattern.search(line):
                findings.append(Finding(path, number, what))
        for match in URL_PASSWORD.finditer(line):
            if is_literal_secret(path, match.group("value")):
                findings.append(Finding(path, number, "URL with a password"))
        for match in SQL_PASSWORD.finditer(line):
            if is_literal_secret(path, match.group("value")):
                findings.append(Finding(path, number, "password literal in SQL"))
        for match in ASSIGNMENT.finditer(line):
            if is_literal_secret(path, match.group("value"), in_comment=in_comment):
                findings.append(
                    Finding(path, number, f"literal value assigned to {match.group('key')!r}")
                )
    return findings


def scan_files(root: Path, paths: Iterable[str]) -> list[Finding]:
    """Findings in ``paths`` (relative to ``root``); binary and missing files are skipped."""
    findings = []
    for path in paths:
        name = Path(path).name
        if any(fnmatch.fnmatch(name, pattern) for pattern in CREDENTIAL_FILES):
            findings.append(Finding(path, 1, "a key or credential file is tracked"))
        file = root / path
        if not file.is_file():
            continue  # deleted in the working tree
        data = file.read_bytes()[:_MAX_BYTES]
        if b"\0" in data[:8192]:
            continue  # binary
        findings += scan_text(path, data.decode("utf-8", errors="replace"))
    return findings


def tracked_files(root: Path) -> list[str]:
    """Files git tracks under ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout
    return [name for name in listed.decode("utf-8").split("\0") if name]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("files", nargs="*", help="files to scan (default: git ls-files)")
    args = parser.parse_args(argv)
    try:
        paths = args.files or tracked_files(args.root)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"secret scan: cannot list the tracked files in {args.root} ({error})")
        return 2
    findings = scan_files(args.root, paths)
    for finding in findings:
        print(finding)
    if findings:
        print(
            f"secret scan: {len(findings)} possible credential(s) in tracked files. Read secrets "
            "from the environment (dbt: env_var('NAME')), or, for a fake value a test needs, "
            "add it to ALLOWED in scripts/secret_scan.py with the reason."
        )
        return 1
    print(f"secret scan: {len(paths)} files, no credential found.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
