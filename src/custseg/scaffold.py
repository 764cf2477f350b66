"""``custseg init``: lay out a new project from the files the package ships.

A project is a folder holding ``dbt_pipeline/`` (the dbt project, copied from the package data
``custseg/dbt_project``), ``ml_pipeline/models/`` (the ML step's outputs), ``custseg.toml`` (every
``[run]`` setting, commented, rendered from :data:`custseg.settings.OPTIONS` so it never drifts
from the options), ``custseg.example.toml`` (every ``[inputs]`` key, commented), the exploration
notebook and a ``.gitignore`` for what runs produce. Nothing is ever overwritten.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from custseg.errors import ConfigError
from custseg.settings import (
    CONFIG_FILE_NAME,
    DBT_PROJECT_FOLDER,
    DEFAULTS,
    OPTIONS,
    OUTPUT_FOLDER,
    PUBLISHED_SEEDS_FOLDER,
)

#: The package data of a project and where each lives in a source checkout (pyproject.toml's
#: package-dir; an editable install imports neither, so they are found there).
SHIPPED = {"dbt_project": DBT_PROJECT_FOLDER, "project_files": "."}
EXAMPLE_CONFIG = "custseg.example.toml"
NOTEBOOK = PurePosixPath("ml_pipeline/notebooks/customer_segmentation.ipynb")
#: Folders and files of a dbt project that runs produce: never shipped, never copied. The
#: published seeds (seeds/published/) are a run's output too.
RUN_OUTPUT_FOLDERS = frozenset({"target", "logs", "dbt_packages"})
RUN_OUTPUT_FILES = frozenset({".user.yml"})

GITIGNORE = """\
# What custseg and dbt produce (written by custseg init): the warehouse file, dbt's build
# folders, the published seeds, the ML step's outputs, and your raw exports.
dbt_pipeline/*.duckdb
dbt_pipeline/*.duckdb.wal
*.duckdb.lock
dbt_pipeline/target/
dbt_pipeline/logs/
dbt_pipeline/dbt_packages/
dbt_pipeline/.user.yml
dbt_pipeline/seeds/published/
ml_pipeline/models/*
!ml_pipeline/models/.gitkeep
data/
"""


@dataclass(frozen=True)
class InitResult:
    """What ``custseg init`` laid out."""

    project_dir: Path
    # Paths relative to project_dir, in the order written.
    created: tuple[str, ...]
    # The .gitignore existed and custseg's lines were added to it.
    gitignore_extended: bool

    def to_dict(self) -> dict[str, Any]:
        """``custseg init --json``."""
        return {
            "project_dir": str(self.project_dir),
            "created": list(self.created),
            "gitignore_extended": self.gitignore_extended,
        }


def is_run_output(relative: PurePosixPath) -> bool:
    """Whether a path of the dbt project is something runs produce (never shipped or copied)."""
    parts = relative.parts
    if set(parts[:-1]) & RUN_OUTPUT_FOLDERS or parts[-1] in RUN_OUTPUT_FILES:
        return True
    if ".duckdb" in parts[-1]:
        return True
    return parts[: len(PUBLISHED_SEEDS_FOLDER.parts)] == PUBLISHED_SEEDS_FOLDER.parts


def shipped(name: str) -> Traversable:
    """The package data ``custseg/<name>`` of an installed wheel, or its source folder."""
    installed = resources.files("custseg") / name
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / SHIPPED[name]
    if not checkout.is_dir():
        raise ConfigError(
            f"custseg's package data {name!r} is missing from {installed}: reinstall custseg "
            "(pip install --force-reinstall custseg)."
        )
    return checkout


def dbt_project_files() -> dict[PurePosixPath, Traversable]:
    """Every file of the shipped dbt project by its path in it, run outputs left out."""
    files: dict[PurePosixPath, Traversable] = {}

    def walk(folder: Traversable, prefix: PurePosixPath) -> None:
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            relative = prefix / entry.name
            if entry.is_dir():
                if entry.name not in RUN_OUTPUT_FOLDERS:
                    walk(entry, relative)
            elif not is_run_output(relative):
                files[relative] = entry

    walk(shipped("dbt_project"), PurePosixPath())
    return files


def planned_files() -> dict[str, bytes]:
    """Every file ``custseg init`` writes, by its path in the new project, with its bytes."""
    project_files = shipped("project_files")
    planned = {
        f"{DBT_PROJECT_FOLDER}/{relative}": entry.read_bytes()
        for relative, entry in dbt_project_files().items()
    }
    planned[f"{OUTPUT_FOLDER.as_posix()}/.gitkeep"] = b""
    planned[NOTEBOOK.as_posix()] = project_files.joinpath(*NOTEBOOK.parts).read_bytes()
    planned[CONFIG_FILE_NAME] = render_config().encode("utf-8")
    planned[EXAMPLE_CONFIG] = project_files.joinpath(EXAMPLE_CONFIG).read_bytes()
    return planned


def init_project(directory: Path) -> InitResult:
    """Lay out a custseg project in ``directory`` (created when missing).

    Raises
    ------
    ConfigError
        ``directory`` is a file, already holds a custseg project, or holds a file init would
        write; nothing is written then.
    """
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file; give custseg init a folder (new or empty).")
    if (directory / DBT_PROJECT_FOLDER / "dbt_project.yml").exists():
        raise ConfigError(
            f"{directory} already holds a custseg project ({DBT_PROJECT_FOLDER}/dbt_project.yml)."
            " Run custseg there, or give custseg init another folder."
        )
    planned = planned_files()
    existing = sorted(path for path in planned if (directory / path).exists())
    if existing:
        listed = ", ".join(existing[:5]) + (
            f" and {len(existing) - 5} more" if existing[5:] else ""
        )
        raise ConfigError(
            f"{directory} already holds {listed}, which custseg init would overwrite. Move "
            "them away, or give custseg init another folder."
        )
    for path, data in planned.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    gitignore = directory / ".gitignore"
    extended = gitignore.exists()
    if extended:
        text = gitignore.read_text(encoding="utf-8")
        if GITIGNORE not in text:
            gitignore.write_text(text + ("" if text.endswith("\n") else "\n") + GITIGNORE)
    else:
        gitignore.write_text(GITIGNORE, encoding="utf-8")
    created = (*planned, *(() if extended else (".gitignore",)))
    return InitResult(directory, tuple(created), extended)


def render_config() -> str:
    """``custseg.toml`` of a new project: every [run] setting commented out at its default."""
    lines = [
        "# custseg.toml: the settings of `custseg run`, `evaluate` and `report` in this project.",
        "#",
        "#     custseg run --config custseg.toml",
        "#",
        "# The command line wins over a CUSTSEG_* environment variable, which wins over this file,",
        "# which wins over the default. Every setting below is commented out at its default:",
        "# uncomment a line to change it. Relative paths are taken from this file's folder.",
        "",
        "[run]",
        "# Put your exports (or `custseg generate-sample --out data`) in data/.",
        'data_dir = "data"',
        "# This file's folder holds dbt_pipeline/ and ml_pipeline/.",
        'project_dir = "."',
    ]
    for name, option in OPTIONS.items():
        if name in {"data_dir", "project_dir"}:
            continue
        lines.append("")
        lines += [f"# {line}" for line in textwrap.wrap(option.help, 96)]
        lines.append(f"# {name} = {_toml_value(getattr(DEFAULTS, name), option.metavar)}")
    lines += [
        "",
        "# Your files: by default the five Marketing Insights files in data_dir (only the sales",
        "# are required). For other names, columns, delimiters or date formats, describe them",
        "# here; custseg.example.toml beside this file documents every key. An order log:",
        "#",
        "# [inputs.sales]",
        '# file = "orders.csv"',
        '# date_format = "YYYY-MM-DD"',
        "# [inputs.sales.columns]            # our name = your name",
        '# customerid = "customer"',
        '# transaction_date = "order_date"',
        '# amount = "total"',
        "",
    ]
    return "\n".join(lines)


def _toml_value(value: Any, metavar: str) -> str:
    """A default as TOML; a setting without one shows what to write (``"YYYY-MM-DD"``)."""
    if value is None:
        return f'"{metavar}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return f'"{value}"'
