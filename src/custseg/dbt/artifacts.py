"""dbt's artifacts in ``target/`` for a build told to write none, when it fails.

``custseg run`` builds twice on one manifest; only its last build (the publication's) needs to
leave ``manifest.json``, ``semantic_manifest.json``, ``run_results.json`` and ``graph.gpickle``
for the user, so the features build runs with ``--no-write-json`` (writing the manifest alone
costs about 0.2 s). A run that stops at that build still leaves what a failing build leaves:
its ``run_results.json`` and the manifest it ran on, written here with dbt's own writers.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult
    from dbt.contracts.graph.manifest import Manifest

#: dbt's flag for an invocation that writes no artifacts.
NO_ARTIFACTS = "--no-write-json"


def write_failure_artifacts(
    target: Path, outcome: dbtRunnerResult, manifest: Manifest | None
) -> None:
    """Write ``run_results.json`` of ``outcome`` and, when given, ``manifest``
    (``manifest.json``, ``semantic_manifest.json``) in the folder ``target``, as dbt would have.

    Best effort: the build's failure is what the run reports, not a folder it cannot write.
    """
    from dbt.parser.manifest import write_manifest  # imported late: dbt's import is slow

    with contextlib.suppress(OSError):
        if manifest is not None:
            write_manifest(manifest, str(target))
        if hasattr(outcome.result, "write"):
            outcome.result.write(str(target / "run_results.json"))
