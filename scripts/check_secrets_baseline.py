"""Fail unless every finding in a detect-secrets baseline is audited as a false positive.

``detect-secrets-hook --baseline`` (``make lint``) fails on findings missing from the baseline,
but lets through any finding in it, audited or not. This check, run after the hook, makes the
baseline a list of audited false positives only: each result must carry ``"is_secret": false``,
set with ``detect-secrets audit .secrets.baseline`` (see README, "Secrets").

Usage::

    python scripts/check_secrets_baseline.py .secrets.baseline

Exit code 0 when every finding is audited false, 1 naming each other one (file, line, type;
never a value), 2 when the baseline cannot be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path


def unaudited(baseline: dict) -> list[str]:
    """``path:line: type (state)`` of each result not audited as a false positive."""
    return [
        f"{path}:{result.get('line_number', '?')}: {result.get('type', '?')} "
        f"({'audited as a real secret' if result.get('is_secret') else 'not audited'})"
        for path, results in sorted(baseline.get("results", {}).items())
        for result in results
        if result.get("is_secret") is not False
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0] if args else ".secrets.baseline")
    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"secrets baseline: cannot read {path} ({error})")
        return 2
    problems = unaudited(baseline)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"secrets baseline: {len(problems)} finding(s) in {path} not audited as false "
            f"positives. Remove the secret from the code (read it with env_var() or from the "
            f"environment), or audit it: detect-secrets audit {path}"
        )
        return 1
    total = sum(len(results) for results in baseline.get("results", {}).values())
    print(f"secrets baseline: {total} finding(s) in {path}, every one audited as false.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
