"""The options the commands share, each defined once from :data:`custseg.settings.OPTIONS`,
and the exit codes every command's help lists."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, TypeVar

import click

from custseg.settings import CONFIG_ENV, CONFIG_FILE_NAME, OPTIONS, default_of

EXIT_CODES_HELP = """\b
Exit codes: 0 success; 1 unexpected error; 2 bad option or config; 3 bad or insufficient
input data; 4 model error; 5 publishing or dbt test failure (nothing was published);
6 another process holds the project, the warehouse or a table it needs; 7 a file or folder
cannot be written or read (disk full, permission denied); 130 interrupted (Ctrl-C, SIGTERM)."""

GENERATE_SAMPLE_EXIT_CODES_HELP = """\b
Exit codes: 0 success; 1 unexpected error (e.g. the folder cannot be written); 2 bad option
(e.g. --customers 0)."""

INIT_EXIT_CODES_HELP = """\b
Exit codes: 0 success; 2 the folder already holds a custseg project or a file init would
write; 7 the folder cannot be written."""

#: What ``custseg --version`` lists beside custseg: the engines and dbt it runs.
VERSIONED = ("dbt-core", "dbt-duckdb", "dbt-postgres", "dbt-spark", "dbt-snowflake", "duckdb")

F = TypeVar("F", bound=Callable[..., Any])


def versions_message() -> str:
    """``custseg --version``: custseg's version, then dbt-core's, the adapters' and DuckDB's."""
    lines = ["%(prog)s %(version)s"]
    for name in VERSIONED:
        try:
            lines.append(f"{name} {importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            lines.append(f"{name} (not installed)")
    return "\n".join(lines)


def setting(name: str, help_text: str | None = None) -> Callable[[F], F]:
    """The command line option of setting ``name``: its flag, help, variable and default."""
    option = OPTIONS[name]
    default = default_of(name)
    shown = "" if default is None or option.is_flag else f"; default {default}"
    text = f"{help_text or option.help} (env {option.env}{shown})"
    if option.is_flag:
        return click.option(option.flag, name, is_flag=True, default=None, help=text)
    return click.option(
        option.flag,
        name,
        type=click.Path(path_type=Path) if option.is_path else str,
        default=None,
        metavar=option.metavar,
        help=text,
    )


CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    default=None,
    callback=lambda _ctx, _param, value: value if value is not None else config_in_folder(),
    help="custseg.toml with run settings ([run]) and your file names, columns and date formats "
    "([inputs]); see custseg.example.toml. Options given here, then CUSTSEG_* variables, "
    f"override it (env CUSTSEG_CONFIG; default: ./{CONFIG_FILE_NAME} when the folder the "
    "command runs in has one).",
)


def config_in_folder(folder: Path | None = None) -> Path | None:
    """The ``custseg.toml`` of the folder a command runs in (default: the current one), if any."""
    candidate = (folder or Path.cwd()) / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
QUIET_OPTION = click.option(
    "--quiet", is_flag=True, help="Print nothing but errors (and --json output)."
)
WAREHOUSE_OPTIONS = (
    setting("project_dir"),
    setting("duckdb_path"),
    setting("profiles_dir"),
    setting("target"),
    setting("lock_timeout"),
)


#: What a run reads and how it fits: ``custseg run``'s options, and ``custseg refresh``'s (which
#: runs the same stages when it retrains).
RUN_OPTIONS = (
    CONFIG_OPTION,
    setting("data_dir", OPTIONS["data_dir"].help + " Required unless --config sets data_dir."),
    setting("dataset"),
    *WAREHOUSE_OPTIONS,
    setting("as_of_date"),
    setting("k"),
    setting("random_state"),
    setting("min_segment_share"),
    setting("max_centroid_shift"),
    setting("drift_psi_alarm"),
    setting("drift_share_shift_alarm"),
    setting("drift_kept_share_min"),
    setting("seed_max_customers"),
    setting("fit_sample_size"),
    setting("allow_unsupported_names"),
    setting("currency"),
    setting("strict_amounts"),
)


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Apply ``decorators`` in the order given (the order --help lists them)."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply
