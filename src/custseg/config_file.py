"""``custseg.toml``: run settings and the mapping of your files, in one file.

A config file has two tables, both optional::

    [run]                      # any setting of custseg.settings.OPTIONS, e.g.
    data_dir = "exports/2024"  # relative paths are taken from this file's folder
    k = 5
    [inputs.sales]             # how one of your files maps to one of ours
    file = "orders.parquet"    # (see custseg.ingest.mapping)

Every key and value is checked when the file is read; an error names the key, the file and what
to write instead. ``custseg.example.toml`` is a complete, commented example.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custseg.errors import ConfigError
from custseg.ingest.mapping import InputSpec, check_keys, parse_inputs
from custseg.settings import (
    OPTIONS,
    Given,
    Settings,
    command_line,
    environment,
    read_value,
    resolve,
)

#: Top-level tables of a config file.
TABLES = ("run", "inputs")


@dataclass(frozen=True)
class ConfigFile:
    """A parsed ``custseg.toml``. Read it with :func:`load_config_file`."""

    # The file it was read from; relative paths in it are taken from its folder.
    path: Path
    # The [run] settings that are set, already checked (merged by custseg.settings.resolve).
    run: Given
    # One spec per configured input; inputs not listed keep the usual names and formats.
    inputs: tuple[InputSpec, ...] = field(default=())


def load_config_file(path: Path) -> ConfigFile:
    """Read and validate a ``custseg.toml``.

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or a key or value is not one custseg accepts; the
        message names the key and what to write instead.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be read ({exc}).") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from exc
    return parse_config(document, path)


def parse_config(document: Mapping[str, Any], path: Path) -> ConfigFile:
    """Validate a parsed TOML document; relative paths are taken from ``path``'s folder."""
    path = path.resolve()
    check_keys(document, TABLES, f"{path}", "top-level table")
    run = _table(document, "run", path)
    check_keys(run, tuple(OPTIONS), f"[run] of {path}", "key")

    def where(name: str) -> str:
        return f"{name} in [run] of {path}"

    values = {name: read_value(name, value, where(name)) for name, value in run.items()}
    return ConfigFile(
        path=path,
        run=Given(values, where, base_dir=path.parent),
        inputs=parse_inputs(_table(document, "inputs", path), path),
    )


def settings_from(
    config_path: Path | None,
    command_line_values: Mapping[str, Any],
    *,
    require_data_dir: bool = False,
    describe: Callable[[str], str] | None = None,
) -> tuple[Settings, tuple[InputSpec, ...]]:
    """The settings of a command and the input mapping of its ``--config`` file.

    Options given on the command line win over ``CUSTSEG_<SETTING>`` environment variables,
    which win over the config file's ``[run]`` table, which wins over the defaults.
    ``describe`` names a given value in messages (default: its command line flag).

    Raises
    ------
    ConfigError
        The config file or a value is invalid, a folder does not exist, no project is found, or
        no data folder is given while ``require_data_dir``.
    """
    config = load_config_file(config_path) if config_path is not None else None
    sources = [command_line(command_line_values, describe), environment()]
    if config is not None:
        sources.append(config.run)
    settings = resolve(*sources, require_data_dir=require_data_dir)
    return settings, config.inputs if config is not None else ()


def _table(document: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: {key} must be a table ([{key}]), not {value!r}.")
    return value


def project_model_path(config_path: Path | None, command_line_values: Mapping[str, Any]) -> Path:
    """The project's published model file, the project found from ``project_dir`` among the
    command-line values (--project-dir), else the config file's, else the current folder."""
    settings, _ = settings_from(config_path, command_line_values)
    return settings.layout.model_path
