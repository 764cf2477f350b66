"""The settings of a run: their defaults, written once, and how the sources are merged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custseg.errors import ConfigError
from custseg.settings.layout import ProjectLayout, find_project_root
from custseg.settings.options import OPTIONS

# Model settings that are not options: part of what a published model means.

#: K-means restarts of the k-means++ initialisation (the anchors need none).
N_INIT = 10
#: Customers sampled for the silhouette score (it is quadratic in the sample).
SILHOUETTE_SAMPLE_SIZE = 10_000
#: Refits on subsamples when the stability of a k is measured, and their size.
N_BOOTSTRAP = 20
BOOTSTRAP_FRACTION = 0.8

# ------------------------------------------------------------------- the sample data
# `custseg generate-sample` and custseg.sample.generate_sample_data.

#: Customers, random seed and file format of a generated sample.
SAMPLE_CUSTOMERS = 2000
SAMPLE_SEED = 42
SAMPLE_FORMAT = "csv"

# -------------------------------------------------------------------- engine settings
# Read by dbt_pipeline/profiles.yml too (with the same defaults, checked by a test), so they
# travel as environment variables only.

#: DuckDB's memory cap for the loader, the input checks and dbt.
DUCKDB_MEMORY_LIMIT_ENV = "CUSTSEG_DUCKDB_MEMORY_LIMIT"
DUCKDB_MEMORY_LIMIT_DEFAULT = "2GB"
#: Schema dbt builds in on PostgreSQL and Spark (the raw tables always go to ``raw``).
SCHEMA_ENV = "CUSTSEG_SCHEMA"
SCHEMA_DEFAULT = "custseg"
#: Where fct_customer_segments takes the segments from: 'seed' or 'warehouse' (SQL scoring).
SEGMENT_SOURCE_ENV = "CUSTSEG_SEGMENT_SOURCE"
#: dbt's own variable for the folder of profiles.yml, honoured when --profiles-dir is not given.
DBT_PROFILES_DIR_ENV = "DBT_PROFILES_DIR"
PROFILES_FILE = "profiles.yml"


def _option(default: Any) -> Any:
    return field(default=default, metadata={"option": True})


@dataclass(frozen=True)
class Settings:
    """Every setting of a run. Build it with :func:`resolve`; the defaults here are the only ones.

    The input files' names, columns and date formats are not settings: they are the
    ``[inputs]`` of a config file (:class:`custseg.ingest.mapping.InputSpec`).

    After :func:`resolve`, paths are absolute, ``project_dir`` is the project root found and
    ``duckdb_path`` and ``profiles_dir`` are set.
    """

    # Folder holding the five inputs; None: `custseg evaluate` uses the warehouse's features.
    data_dir: Path | None = _option(None)
    # Name of the data a run reads; None: derived from the data folder and the input mapping
    # (custseg.run_identity.default_dataset). Only models of one dataset are compared.
    dataset: str | None = _option(None)
    # Folder holding dbt_pipeline/ and ml_pipeline/; None: found from the current folder.
    project_dir: Path | None = _option(None)
    # DuckDB warehouse file (target duckdb); None: dbt_pipeline/custseg.duckdb.
    duckdb_path: Path | None = _option(None)
    # Folder of the profiles.yml dbt reads; None: DBT_PROFILES_DIR, else dbt_pipeline/.
    profiles_dir: Path | None = _option(None)
    # dbt target in the profile `custseg` of that profiles.yml.
    target: str = _option("duckdb")
    # Seconds custseg and dbt wait for a table lock another session holds (PostgreSQL).
    lock_timeout: float = _option(60.0)
    # Date the features are computed as of; None: the day after the last transaction.
    as_of_date: dt.date | None = _option(None)
    # Number of segments, or "auto" to choose it by `custseg evaluate`'s rule.
    k: int | str = _option(5)
    # Seed of every random draw; the same seed and data give byte-identical outputs.
    random_state: int = _option(42)
    # Business constraint when k is chosen: no segment under this share of customers.
    min_segment_share: float = _option(0.05)
    # Largest centroid move (standard deviations) for which a retrain keeps the previous ids.
    max_centroid_shift: float = _option(0.5)
    # Drift alarms (custseg.monitoring.drift): a clustering feature's population stability
    # index above this; 0.25 is the usual "significant shift" level.
    drift_psi_alarm: float = _option(0.25)
    # A segment's share of customers moving by more than this (absolute).
    drift_share_shift_alarm: float = _option(0.10)
    # Fewer than this share of the customers of two runs keeping their segment.
    drift_kept_share_min: float = _option(0.70)
    # Above this many customers, the warehouse scores everyone in SQL (no per-customer seed).
    seed_max_customers: int = _option(100_000)
    # Above this many customers, K-means is fitted on a random sample of this size.
    fit_sample_size: int = _option(200_000)
    # Publish even when a segment's profile does not support its name (with a warning).
    allow_unsupported_names: bool = _option(False)
    # Label of the report's money figures ("EUR", "$"); None: amounts carry no label.
    currency: str | None = _option(None)
    # Stop the run at a sales line with 0 in quantity, avg_price or amount (else skipped).
    strict_amounts: bool = _option(False)

    @property
    def n_segments(self) -> int | None:
        """k as a number, or None when it is chosen automatically."""
        return None if self.k == "auto" else int(self.k)

    @property
    def layout(self) -> ProjectLayout:
        """The project's folders and files (after :func:`resolve`)."""
        if self.project_dir is None:
            raise ConfigError("The settings are not resolved: no project folder.")
        return ProjectLayout(self.project_dir)

    @property
    def dbt_project_dir(self) -> Path:
        return self.layout.dbt_project_dir

    def dbt_vars(self) -> dict[str, str | None]:
        """The dbt vars of this run (the same for all its dbt calls)."""
        return {"as_of_date": self.as_of_date.isoformat() if self.as_of_date else None}


#: Every default, as one object (``DEFAULTS.random_state``).
DEFAULTS = Settings()


def default_of(name: str) -> Any:
    """The default of setting ``name``, for help texts."""
    return getattr(DEFAULTS, name)


def read_value(name: str, value: Any, where: str) -> Any:
    """Read ``value`` of setting ``name``; ``where`` names its source in the error message.

    Raises
    ------
    ConfigError
        ``<where>: <value> is not valid; write <what a valid value looks like>.``
    """
    option = OPTIONS[name]
    try:
        return option.read(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: {value!r} is not valid; write {option.expected}.") from None


@dataclass(frozen=True)
class Given:
    """Settings from one source: values by setting name, and how to name the source."""

    values: Mapping[str, Any]
    # Names a setting of this source in messages, e.g. "--k" or "k in [run] of custseg.toml".
    describe: Callable[[str], str]
    # Folder relative paths of this source are taken from (a config file's); None: as given.
    base_dir: Path | None = None


def command_line(values: Mapping[str, Any], describe: Callable[[str], str] | None = None) -> Given:
    """The options given on the command line (None = not given).

    ``describe`` names a setting in messages (default: its flag, ``--k``); the Python API
    passes its keyword arguments here and names them as such (``k=``).
    """
    return Given(
        {name: value for name, value in values.items() if name in OPTIONS and value is not None},
        describe or (lambda name: OPTIONS[name].flag),
    )


def environment(environ: Mapping[str, str] | None = None) -> Given:
    """The settings given as ``CUSTSEG_<SETTING>`` variables (empty ones are not given)."""
    environ = os.environ if environ is None else environ
    values = {
        name: environ[option.env]
        for name, option in OPTIONS.items()
        if environ.get(option.env, "").strip()
    }
    return Given(values, lambda name: OPTIONS[name].env)


def resolve(
    *sources: Given,
    require_data_dir: bool = False,
    cwd: Path | None = None,
) -> Settings:
    """Merge ``sources`` (strongest first) over the defaults, check them and find the project.

    Parameters
    ----------
    sources
        E.g. ``command_line(...), environment(), config.run`` (see :mod:`custseg.config_file`).
    require_data_dir
        Refuse settings without a data folder (``custseg run``).
    cwd
        The folder relative paths and the project search start from (default: the current one).

    Raises
    ------
    ConfigError
        A value is invalid, a folder does not exist or no project is found; the message names
        the option, variable or config key it came from.
    """
    cwd = (cwd or Path.cwd()).resolve()
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source in reversed(sources):  # weakest first: stronger ones overwrite
        for name, raw in source.values.items():
            where = source.describe(name)
            value = read_value(name, raw, where)
            if OPTIONS[name].is_path:
                value = ((source.base_dir or cwd) / value).resolve()
            values[name], origin[name] = value, where
    settings = dataclasses.replace(DEFAULTS, **values)
    return _checked(settings, origin, require_data_dir=require_data_dir, cwd=cwd)


def _checked(
    settings: Settings, origin: Mapping[str, str], *, require_data_dir: bool, cwd: Path
) -> Settings:
    data_dir = settings.data_dir
    if data_dir is None and require_data_dir:
        raise ConfigError(
            "No data folder: pass --data-dir DIR, or set data_dir in the [run] table of a "
            "--config file (or CUSTSEG_DATA_DIR)."
        )
    if data_dir is not None and not data_dir.is_dir():
        where = origin["data_dir"]
        hint = (
            " (a relative path is taken from the config file's folder)" if "[run]" in where else ""
        )
        raise ConfigError(f"{where}: no such folder {data_dir}{hint}.")
    root = find_project_root(settings.project_dir or cwd)
    duckdb_path = (settings.duckdb_path or ProjectLayout(root).default_duckdb_path).resolve()
    if settings.target == "duckdb":
        _check_duckdb_path(duckdb_path, origin.get("duckdb_path", "the DuckDB file"))
    profiles_dir = _profiles_dir(settings, origin, root, cwd)
    return dataclasses.replace(
        settings, project_dir=root, duckdb_path=duckdb_path, profiles_dir=profiles_dir
    )


def _profiles_dir(settings: Settings, origin: Mapping[str, str], root: Path, cwd: Path) -> Path:
    """The folder of the profiles.yml dbt reads: --profiles-dir (or CUSTSEG_PROFILES_DIR or
    ``profiles_dir`` in [run]), then dbt's DBT_PROFILES_DIR, then the project's dbt_pipeline/."""
    folder, where = settings.profiles_dir, origin.get("profiles_dir", "")
    if folder is None and os.environ.get(DBT_PROFILES_DIR_ENV, "").strip():
        folder = (cwd / Path(os.environ[DBT_PROFILES_DIR_ENV]).expanduser()).resolve()
        where = DBT_PROFILES_DIR_ENV
    if folder is None:
        return ProjectLayout(root).dbt_project_dir
    if not (folder / PROFILES_FILE).is_file():
        raise ConfigError(
            f"{where}: no {PROFILES_FILE} in {folder}. Point it at the folder holding the "
            f"{PROFILES_FILE} with the profile `custseg`, or unset it to use the project's "
            f"own {ProjectLayout(root).dbt_project_dir / PROFILES_FILE}."
        )
    return folder


#: The first bytes of a DuckDB database file hold this at this offset.
DUCKDB_MAGIC, DUCKDB_MAGIC_OFFSET = b"DUCK", 8


def _check_duckdb_path(path: Path, where: str) -> None:
    """Refuse a DuckDB path dbt cannot use, or a file that is not a DuckDB database.

    DuckDB would open a CSV file as a database of one table, and dbt-duckdb writes the file's
    name, as the database name, into SQL unescaped: a quote in it breaks dbt's SQL.
    """
    quotes = [quote for quote in ("'", '"') if quote in path.name]
    if quotes:
        raise ConfigError(
            f"{where}: the file name {path.name!r} holds {' and '.join(quotes)}; dbt-duckdb "
            "uses the file name as the database name in SQL without escaping it. Rename the "
            "file without quotes (its folder may hold them)."
        )
    if path.is_dir():
        raise ConfigError(f"{where}: {path} is a folder; give the path of a DuckDB file.")
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                head = handle.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))
        except OSError as exc:
            raise ConfigError(f"{where}: {path} cannot be read ({exc.strerror}).") from exc
        if head[DUCKDB_MAGIC_OFFSET:] != DUCKDB_MAGIC:
            raise ConfigError(
                f"{where}: {path} exists but is not a DuckDB database file"
                f"{' (it is empty)' if not head else ''}. custseg never overwrites another "
                "file: point --duckdb-path at a DuckDB file, or at a new path in an existing "
                "folder (custseg creates it)."
            )


def resolve_settings(**values: Any) -> Settings:
    """Settings from keyword values, as a library caller gives them: checked like the command
    line's, merged over the defaults, with the project found.

    Example: ``resolve_settings(data_dir=Path("exports"), k=4)``.
    """
    return resolve(Given(values, lambda name: name))
