"""Run dbt in-process against the project's ``dbt_pipeline`` folder.

In-process invocations (``dbtRunner``) save the 2-3 s that each ``dbt`` subprocess spends
starting up. A run parses the project once (:func:`parse_project`) and hands the manifest to
each of its invocations, which then skip dbt's parse (even a partial re-parse of the replaced
seeds and of the files reading a changed environment variable costs seconds). Every invocation
first writes the header-only placeholders of any published seed that is missing
(:mod:`custseg.dbt.placeholders`): dbt cannot parse the project without them. Failures come
back as :class:`~custseg.errors.DbtError` listing every node that errored or failed, with dbt's
own message, so the user knows which test or model to look at.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custseg.dbt.artifacts import NO_ARTIFACTS, write_failure_artifacts
from custseg.dbt.placeholders import ensure_seed_placeholders
from custseg.errors import (
    DbtError,
    DbtLockError,
    DbtStorageError,
    StorageError,
    storage_error,
    storage_error_in,
)
from custseg.settings import SEGMENT_SOURCE_ENV, Settings
from custseg.warehouses import Warehouse

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult
    from dbt.contracts.graph.manifest import Manifest

_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


@dataclass(frozen=True)
class DbtNodeResult:
    """Outcome of one dbt node (model, seed, test or unit test)."""

    unique_id: str
    status: str
    message: str
    failures: int | None
    # Seconds dbt spent on the node.
    execution_time: float = 0.0

    @property
    def resource_type(self) -> str:
        """model, seed, test or unit_test (the first part of the unique id)."""
        return self.unique_id.split(".", 1)[0]


@dataclass(frozen=True)
class DbtInvocation:
    """Where and how dbt runs: project, profile target, environment and vars."""

    project_dir: Path
    target: str = "duckdb"
    env: Mapping[str, str] | None = None
    vars: Mapping[str, Any] | None = None
    quiet: bool = True
    # Explains a lock timeout on the named models (who holds them, what to do); see
    # Warehouse.explain_lock_wait.
    explain_lock_wait: Callable[[Sequence[str]], str] | None = field(default=None, compare=False)
    # Folder of the profiles.yml dbt reads; None: the project's own (``project_dir``).
    profiles_dir: Path | None = None

    def command_line(self, command: str, args: Sequence[str]) -> list[str]:
        """Build the argument list for ``dbtRunner.invoke`` (``command`` may be "docs generate")."""
        argv = [
            *command.split(),
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir or self.project_dir),
            "--target",
            self.target,
        ]
        if self.vars:
            argv += ["--vars", json.dumps(dict(self.vars), sort_keys=True)]
        argv += list(args)
        return argv


def invocation_for(
    settings: Settings,
    warehouse: Warehouse,
    segment_source: str = "seed",
    extra_env: Mapping[str, str] | None = None,
) -> DbtInvocation:
    """The dbt project, target, environment and vars of a run.

    ``segment_source`` ('seed' or 'warehouse', see fct_customer_segments) travels as the
    environment variable CUSTSEG_SEGMENT_SOURCE rather than as a var: dbt re-parses the whole
    project when its vars change (about 2 s), and only the files reading a changed variable.
    So does ``extra_env`` (the history batch of a publication, :func:`custseg.history.history_env`).
    """
    return DbtInvocation(
        project_dir=settings.dbt_project_dir,
        target=settings.target,
        env={**warehouse.dbt_env(), SEGMENT_SOURCE_ENV: segment_source, **(extra_env or {})},
        vars=settings.dbt_vars(),
        explain_lock_wait=warehouse.explain_lock_wait,
        profiles_dir=settings.profiles_dir,
    )


@contextlib.contextmanager
def environment_overrides(overrides: Mapping[str, str]) -> Iterator[None]:
    """Set ``overrides`` in ``os.environ`` for the block (dbt reads its env_var() there)."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def parse_project(invocation: DbtInvocation) -> Manifest:
    """Parse the project (``dbt parse``) once for the dbt invocations of a run.

    Hand the manifest to :func:`run_dbt` for every invocation with the same project, profile,
    target and vars: they skip dbt's parse. It stays right when the published seeds are
    replaced between invocations (dbt reads a seed's rows when it loads it, not when it
    parses) and when the environment variables of the segment source and the history change:
    the models read them in their SQL, compiled again at every invocation, and the
    ``depends_on`` lines of fct_customer_segments and segment_memberships declare every model
    their ``ref`` may name. Changed SQL, yml or vars need a new parse.

    Raises
    ------
    StorageError, DbtError
        As :func:`run_dbt`.
    """
    # No manifest.json here: the first build on this manifest writes it, as a parsing build
    # would (writing it costs about half a second). A failure reads "dbt build failed": the
    # parse is the first step of the run's build, which reported it so when it parsed itself.
    return _invoke(invocation, "parse", ("--no-write-json",), reported_as="build").result


def run_dbt(
    invocation: DbtInvocation,
    command: str,
    *args: str,
    manifest: Manifest | None = None,
    artifacts: bool = True,
) -> list[DbtNodeResult]:
    """Run one dbt command in-process and return the node results.

    The published seeds missing from the project are first written header-only
    (:func:`~custseg.dbt.placeholders.ensure_seed_placeholders`). ``manifest``: the project
    as :func:`parse_project` parsed it for this run; None: dbt parses it (partially when its
    last parse saved its state in ``target/``).

    ``artifacts``: False for a build whose artifacts a later build of the same run replaces:
    only a failure writes them (:mod:`custseg.dbt.artifacts`).

    Raises
    ------
    StorageError
        A placeholder cannot be written (see ``ensure_seed_placeholders``).
    DbtError
        When dbt cannot start (bad project or profile) or any node errors or fails. The message
        names each failing node and what dbt said about it.
    """
    return _node_results(_invoke(invocation, command, args, manifest, artifacts=artifacts).result)


def _invoke(
    invocation: DbtInvocation,
    command: str,
    args: Sequence[str],
    manifest: Manifest | None = None,
    reported_as: str | None = None,
    *,
    artifacts: bool = True,
) -> dbtRunnerResult:
    """Invoke dbt in-process (see :func:`run_dbt`); raise on any failure, else its outcome.

    ``reported_as``: the dbt command a failure message names (default ``command``)."""
    # Quiet: dbt prints nothing (custseg says what failed, from the node results), and its log
    # file keeps everything. "--quiet" alone still prints errors, and a stack trace for an
    # interruption (Ctrl-C, SIGTERM), which custseg reports in one sentence of its own.
    global_flags = _QUIET_FLAGS if invocation.quiet else []
    if not artifacts:
        args = (*args, NO_ARTIFACTS)
    ensure_seed_placeholders(invocation.project_dir)
    outcome = invoke_dbt_runner(
        invocation, global_flags + invocation.command_line(command, args), manifest
    )
    if isinstance(outcome.exception, KeyboardInterrupt):
        # dbtRunner returns every exception, Ctrl-C and SIGTERM (see custseg.cli) included;
        # an interruption stays one, so the run stops as interrupted rather than as failed.
        raise outcome.exception

    results = _node_results(outcome.result)
    failed = [result for result in results if result.status in _FAILED_STATUSES]
    if failed or not outcome.success:
        if not artifacts:
            write_failure_artifacts(invocation.project_dir / "target", outcome, manifest)
        failed = [_with_columns_named(invocation, node, manifest) for node in failed]
        lock_wait = _lock_wait(invocation, outcome.exception, failed)
        # A lock another session holds is not a test to inspect: the sentence says what to do.
        message = _failure_message(
            reported_as or command, outcome.exception, failed, hint=not lock_wait
        )
        message += f"\n  dbt's log: {invocation.project_dir / 'logs' / 'dbt.log'}"
        if lock_wait:
            raise DbtLockError(f"{message}\n{lock_wait}")
        storage = _storage_fault(invocation, outcome.exception, message, failed)
        if storage is not None:
            raise DbtStorageError(f"{message}\n  {storage}")
        raise DbtError(message)
    return outcome


#: The generic tests checking several columns of a model in one query (not_null and
#: accepted_range, see dbt_pipeline/tests/generic/): their failing rows name the columns.
_COLUMNS_TESTS = ("not_null_columns", "accepted_ranges")


def _with_columns_named(
    invocation: DbtInvocation, node: DbtNodeResult, manifest: Manifest | None
) -> DbtNodeResult:
    """A failing ``not_null_columns`` or ``accepted_ranges`` test with each column breaking its
    rule in the message, model, column, rule and rows (dbt's says only "Got 2 results": how
    many of the test's columns break it).

    Its failing rows name them: ``dbt show`` reads them, only when the test has failed. Any
    other node comes back as it is, and so does this one when the rows cannot be read (its
    message then still names the model, in the test's name).
    """
    name = node.unique_id.split(".")[2] if node.resource_type == "test" else ""
    if node.status != "fail" or not name.startswith(tuple(f"{t}_" for t in _COLUMNS_TESTS)):
        return node
    # No artifacts: target/run_results.json stays the failing build's.
    argv = invocation.command_line("show", ("--select", name, "--limit", "-1", "--no-write-json"))
    shown = invoke_dbt_runner(invocation, _QUIET_FLAGS + argv, manifest)
    results = getattr(shown.result, "results", None) or []
    table = getattr(results[0], "agate_table", None) if shown.success and results else None
    if table is None or not table.rows:
        return node
    broken = [
        f"{model}.{column}: {rows:,} row{'s' if rows != 1 else ''} {rule}"
        for model, column, rule, rows in broken_column_rules(table)
    ]
    return dataclasses.replace(node, message=f"{'; '.join(broken)}; {node.message.strip()}")


def broken_column_rules(table: Any) -> list[tuple[str, str, str, int]]:
    """The failing rows of a ``not_null_columns`` or ``accepted_ranges`` test, as ``dbt show``
    gives them (an agate table): model, column, rule and number of rows breaking it, in order.

    Column names are matched whatever their case: Snowflake gives them in capitals.
    """
    names = [name.lower() for name in table.column_names]
    rows = [dict(zip(names, values, strict=True)) for values in table.rows]
    return [
        (row["model_name"], row["column_name"], row["rule"], int(row["failing_rows"]))
        for row in rows
    ]


#: dbt's global flags for an invocation that prints nothing and logs everything to its file.
_QUIET_FLAGS = ["--log-level", "none", "--log-level-file", "debug"]


def invoke_dbt_runner(
    invocation: DbtInvocation, argv: list[str], manifest: Manifest | None
) -> dbtRunnerResult:
    """``dbtRunner(manifest=manifest).invoke(argv)`` in the invocation's environment; dbt's
    hold on a DuckDB file is released afterwards, whatever happened."""
    from dbt.cli.main import dbtRunner  # imported late: dbt's import costs most of a second

    overrides = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **dict(invocation.env or {})}
    try:
        with environment_overrides(overrides):
            return dbtRunner(manifest=manifest).invoke(argv)
    finally:
        release_duckdb_file()


def release_duckdb_file() -> None:
    """Close the DuckDB database dbt-duckdb keeps open for the life of the process.

    dbt-duckdb holds one connection per process between invocations (on its connection
    manager), so without this the file stays locked against every other process (a SQL client,
    ``dbt`` on the command line) until a notebook or script that called ``custseg.run`` exits.
    The next invocation opens it again. Nothing to do when dbt-duckdb was never imported.
    """
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:
        return
    manager = connections.DuckDBConnectionManager
    with manager._LOCK:
        environment, manager._ENV = manager._ENV, None
    if environment is not None:
        environment.close()


#: What dbt's error says when PostgreSQL's lock_timeout fired, or DuckDB's file was held.
LOCK_TIMEOUT_TEXT = "canceling statement due to lock timeout"
FILE_LOCK_TEXT = "Could not set lock on file"


def _lock_wait(
    invocation: DbtInvocation, exception: BaseException | None, failed: Sequence[DbtNodeResult]
) -> str:
    """The sentence about a lock another session holds, when that is why dbt failed."""
    texts = [node.message for node in failed] + [str(exception or "")]
    if any(FILE_LOCK_TEXT in text for text in texts):
        return (
            "  Another process has the DuckDB file open (a DuckDB CLI, DBeaver or notebook "
            "session): close it and run again."
        )
    locked = [node for node in failed if LOCK_TIMEOUT_TEXT in node.message]
    if not locked and LOCK_TIMEOUT_TEXT not in texts[-1]:
        return ""
    models = [node.unique_id.split(".")[-1] for node in locked]
    explain = invocation.explain_lock_wait
    explanation = explain(models) if explain is not None else ""
    return "  " + (
        explanation
        or f"Another session holds a lock on {', '.join(models) or 'a table dbt needs'} "
        "(e.g. a dashboard's open transaction): close it and run again."
    )


def _storage_fault(
    invocation: DbtInvocation,
    exception: BaseException | None,
    message: str,
    failed: Sequence[DbtNodeResult],
) -> StorageError | None:
    """The storage fault that stopped dbt: in an engine's message, or dbt's own OSError (its
    manifest or logs met a full disk), which names no file."""
    storage = storage_error_in("\n".join([message, *(node.message for node in failed)]))
    if storage is None and isinstance(exception, OSError):
        where = exception.filename or (
            f"a file dbt writes in {invocation.project_dir / 'target'} or "
            f"{invocation.project_dir / 'logs'}"
        )
        storage = storage_error(exception, where)
    return storage


def _node_results(result: Any) -> list[DbtNodeResult]:
    nodes = []
    for item in getattr(result, "results", None) or []:
        node = getattr(item, "node", None)
        unique_id = getattr(node, "unique_id", "?")
        status = str(getattr(item, "status", "")).lower()
        nodes.append(
            DbtNodeResult(
                unique_id=unique_id,
                status=status.split(".")[-1],
                message=str(getattr(item, "message", "") or ""),
                failures=getattr(item, "failures", None),
                execution_time=float(getattr(item, "execution_time", 0.0) or 0.0),
            )
        )
    return nodes


def _failure_message(
    command: str,
    exception: BaseException | None,
    failed: Sequence[DbtNodeResult],
    hint: bool = True,
) -> str:
    lines = [f"dbt {command} failed."]
    if exception is not None:
        lines.append(f"  {type(exception).__name__}: {str(exception).strip()}")
    for node in failed:
        detail = node.message.strip().splitlines()[0] if node.message.strip() else node.status
        lines.append(f"  {node.unique_id}: {detail}")
    if failed and hint:
        lines.append(
            "  Inspect a failing test with `dbt test --select <name> --store-failures` "
            "from dbt_pipeline/, or compile it with `dbt compile --select <name>`."
        )
    return "\n".join(lines)
