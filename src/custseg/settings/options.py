"""How each setting is written (flag, variable, config key), documented and read from text."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custseg.catalogue import MAX_SEGMENTS, MIN_SEGMENTS

#: dbt targets custseg runs on (outputs of dbt_pipeline/profiles.yml it can load and read).
TARGETS: tuple[str, ...] = ("duckdb", "postgres", "spark", "snowflake")
#: Environment variables of the settings start with this.
ENV_PREFIX = "CUSTSEG_"
#: The variable naming a config file when none is passed (``--config``, ``config=``).
CONFIG_ENV = ENV_PREFIX + "CONFIG"
#: The config file a command reads from the folder it runs in when neither ``--config`` nor
#: ``CUSTSEG_CONFIG`` names one (``custseg init`` writes it), as dbt finds dbt_project.yml.
CONFIG_FILE_NAME = "custseg.toml"


@dataclass(frozen=True)
class Option:
    """How one setting is written, documented and checked."""

    name: str
    # One line of help, without the default (added from the Settings field).
    help: str
    metavar: str
    # Reads a value given as text (command line, environment) or as a TOML value; raises
    # ValueError or TypeError when it is not one.
    read: Callable[[Any], Any]
    # What a valid value looks like, ending the message about an invalid one.
    expected: str
    # A path: relative paths in a config file are taken from that file's folder.
    is_path: bool = False
    # A switch (--allow-unsupported-names): given or not on the command line.
    is_flag: bool = False

    @property
    def flag(self) -> str:
        """The command line option, e.g. ``--as-of-date``."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``CUSTSEG_AS_OF_DATE``."""
        return ENV_PREFIX + self.name.upper()


def _path(value: Any) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise TypeError(value)
    return Path(value).expanduser()


def _target(value: Any) -> str:
    if value not in TARGETS:
        raise ValueError(value)
    return str(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(value)
    return dt.date.fromisoformat(value.strip())


def _k(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    number = _whole(value)
    if not MIN_SEGMENTS <= number <= MAX_SEGMENTS:
        raise ValueError(value)
    return number


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise TypeError(value)


def _at_least(low: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        number = _whole(value)
        if number < low:
            raise ValueError(value)
        return number

    return read


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError(value)


def _share(value: Any) -> float:
    share = _number(value)
    if not 0 <= share < 1:
        raise ValueError(value)
    return share


def _proportion(value: Any) -> float:
    share = _number(value)
    # Also refuses NaN (no comparison holds).
    if not 0 <= share <= 1:
        raise ValueError(value)
    return share


def _positive(value: Any) -> float:
    number = _number(value)
    # Also refuses NaN (no comparison holds) and the infinities.
    if not 0 < number < math.inf:
        raise ValueError(value)
    return number


#: PostgreSQL's longest lock_timeout (2**31 - 1 milliseconds), in seconds; below a
#: millisecond, 0 would mean "wait forever".
MAX_LOCK_TIMEOUT_SECONDS = 2_147_483
MIN_LOCK_TIMEOUT_SECONDS = 0.001


def _seconds(value: Any) -> float:
    number = _number(value)
    if not MIN_LOCK_TIMEOUT_SECONDS <= number <= MAX_LOCK_TIMEOUT_SECONDS:
        raise ValueError(value)
    return number


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


#: A dataset name: what a project calls one source of data (see custseg.run_identity).
DATASET_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _dataset(value: Any) -> str:
    if not isinstance(value, str) or not DATASET_PATTERN.fullmatch(value.strip()):
        raise ValueError(value)
    return value.strip()


#: Longest currency label: a symbol or a code ("$", "R$", "EUR", "Rs."), not a phrase.
MAX_CURRENCY_LENGTH = 5


def _currency(value: Any) -> str | None:
    if not isinstance(value, str):
        raise TypeError(value)
    label = value.strip()
    if not label:
        return None
    if len(label) > MAX_CURRENCY_LENGTH or any(
        char.isdigit() or char.isspace() or not char.isprintable() for char in label
    ):
        raise ValueError(value)
    return label


def _switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise TypeError(value)


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option(
            "data_dir",
            "Folder with CustomersData, Online_Sales, Discount_Coupon, Tax_amount and "
            "Marketing_Spend, each .csv or .parquet.",
            "DIR",
            _path,
            "the path of an existing folder",
            is_path=True,
        ),
        Option(
            "project_dir",
            "Folder holding dbt_pipeline/ and ml_pipeline/ (default: found from the current "
            "folder upwards).",
            "DIR",
            _path,
            "the path of a folder holding dbt_pipeline/dbt_project.yml",
            is_path=True,
        ),
        Option(
            "duckdb_path",
            "DuckDB warehouse file (default: dbt_pipeline/custseg.duckdb).",
            "FILE",
            _path,
            "the path of a DuckDB file",
            is_path=True,
        ),
        Option(
            "profiles_dir",
            "Folder holding the profiles.yml dbt reads (default: DBT_PROFILES_DIR, else "
            "dbt_pipeline/ of the project). Its profile `custseg` needs the output --target "
            "names; on DuckDB its path must be the warehouse file custseg loads.",
            "DIR",
            _path,
            "the path of a folder holding profiles.yml",
            is_path=True,
        ),
        Option(
            "dataset",
            "Name of the data this run reads; a model is only compared with the previous one of "
            "the same dataset (default: the data folder's name and a hash of its location and "
            "the [inputs] mapping).",
            "NAME",
            _dataset,
            "a name of 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit "
            "(e.g. shop-eu)",
        ),
        Option(
            "target",
            "dbt target (profiles.yml) to run on; postgres reads PGHOST, PGPORT, PGUSER, "
            "PGPASSWORD, PGDATABASE; snowflake reads SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, "
            "SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH, SNOWFLAKE_WAREHOUSE, "
            "SNOWFLAKE_DATABASE.",
            "|".join(TARGETS),
            _target,
            f"one of {', '.join(TARGETS)}",
        ),
        Option(
            "lock_timeout",
            "Seconds to wait for a table another session holds (e.g. a dashboard's open "
            "transaction) before stopping with exit code 6; PostgreSQL only.",
            "SECONDS",
            _seconds,
            f"a number of seconds from {MIN_LOCK_TIMEOUT_SECONDS} to "
            f"{MAX_LOCK_TIMEOUT_SECONDS} (e.g. 60)",
        ),
        Option(
            "as_of_date",
            "Date recency and activity are measured against (default: the day after the last "
            "transaction).",
            "YYYY-MM-DD",
            _date,
            "a date as YYYY-MM-DD (for example 2020-01-01)",
        ),
        Option(
            "k",
            f"Number of segments ({MIN_SEGMENTS}-{MAX_SEGMENTS}), or 'auto' to choose it as "
            "`custseg evaluate` does.",
            "K",
            _k,
            f"a whole number from {MIN_SEGMENTS} to {MAX_SEGMENTS} (the naming rules define "
            f"{MAX_SEGMENTS} segments) or 'auto'",
        ),
        Option(
            "random_state",
            "Seed for sampling (silhouette, bootstrap, large fits) and for k-means++ restarts.",
            "N",
            _at_least(0),
            "a whole number >= 0",
        ),
        Option(
            "min_segment_share",
            "With --k auto and in `custseg evaluate`: no segment may hold less than this share "
            "of customers.",
            "SHARE",
            _share,
            "a share from 0 up to 1 (0.05 means no segment under 5% of customers)",
        ),
        Option(
            "max_centroid_shift",
            "Largest centroid move (standard deviations) for which a retrain keeps the "
            "published segment ids; beyond it the run reports that segment definitions changed.",
            "SD",
            _positive,
            "a positive number of standard deviations (e.g. 0.5)",
        ),
        Option(
            "drift_psi_alarm",
            "Drift alarm: population stability index of a clustering feature above which its "
            "distribution has shifted significantly (0.1 to 0.25 is a moderate shift).",
            "PSI",
            _positive,
            "a positive number (e.g. 0.25)",
        ),
        Option(
            "drift_share_shift_alarm",
            "Drift alarm: change of a segment's share of customers (absolute, 0.10 = 10 "
            "percentage points) above which the segment mix has shifted.",
            "SHARE",
            _proportion,
            "a share from 0 to 1 (0.1 means 10 percentage points)",
        ),
        Option(
            "drift_kept_share_min",
            "Drift alarm: share of the customers of both runs who kept their segment below "
            "which too many customers moved.",
            "SHARE",
            _proportion,
            "a share from 0 to 1 (0.7 means 70% of customers kept their segment)",
        ),
        Option(
            "seed_max_customers",
            "Above this many customers, segments are scored in SQL inside the warehouse "
            "instead of passing one row per customer through the customer_segments seed.",
            "N",
            _at_least(0),
            "a whole number >= 0",
        ),
        Option(
            "fit_sample_size",
            "Above this many customers, K-means is fitted on a random sample of this size.",
            "N",
            _at_least(1000),
            "a whole number >= 1000",
        ),
        Option(
            "allow_unsupported_names",
            "Publish even when a segment's profile does not support its name (prints a warning).",
            "",
            _switch,
            "true or false",
            is_flag=True,
        ),
        Option(
            "currency",
            "Currency label the report writes on every money figure (revenue, order value), "
            "e.g. EUR, $ or ₹ (default: none, amounts without a label).",
            "LABEL",
            _currency,
            f"a label of 1 to {MAX_CURRENCY_LENGTH} characters without digits or spaces "
            '(e.g. EUR, $ or ₹), or "" for none',
        ),
        Option(
            "strict_amounts",
            "Stop with an error at a sales line with 0 in quantity, avg_price or amount "
            "(default: such free lines are skipped and counted in the run summary).",
            "",
            _switch,
            "true or false",
            is_flag=True,
        ),
    )
}
