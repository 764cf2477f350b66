"""Run configuration: where the data, the dbt project and the outputs are, and model settings."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custseg.errors import ConfigError
from custseg.naming import MAX_SEGMENTS, MIN_SEGMENTS

if TYPE_CHECKING:
    from custseg.input_config import InputSpec

DBT_PROJECT_FOLDER = "dbt_pipeline"
OUTPUT_FOLDER = Path("ml_pipeline") / "models"
DUCKDB_PATH_ENV = "CUSTSEG_DUCKDB_PATH"
DEFAULT_DUCKDB_FILE = "custseg.duckdb"


@dataclass(frozen=True)
class RunConfig:
    """Everything one ``custseg run`` needs. Build it with :func:`resolve_run_config`."""

    # Folder with CustomersData, Online_Sales, Discount_Coupon, Tax_amount, Marketing_Spend.
    data_dir: Path
    # Folder holding dbt_pipeline/ and ml_pipeline/ (the repository root by default).
    project_root: Path
    # DuckDB warehouse file; dbt and the ML step both use it (target duckdb only).
    duckdb_path: Path
    # dbt target in dbt_pipeline/profiles.yml: duckdb, postgres or spark.
    target: str = "duckdb"
    # Date the features are computed as of; None = the day after the last transaction.
    as_of_date: dt.date | None = None
    # Number of segments (K-means clusters), 2 to 5; None chooses k by `custseg evaluate`'s rule.
    n_segments: int | None = 5
    # Seed of K-means; the same seed and data give byte-identical outputs.
    random_state: int = 42
    # K-means restarts; the best of n_init runs is kept.
    n_init: int = 10
    # Customers sampled for the silhouette score (it is quadratic in the sample).
    silhouette_sample_size: int = 10_000
    # Business constraint when k is chosen automatically: no segment under this share.
    min_segment_share: float = 0.05
    # Largest centroid move (standard deviations) for which a retrain keeps the previous ids.
    max_centroid_shift: float = 0.5
    # Publish even when a segment's profile does not support its name (a warning is printed).
    allow_unsupported_names: bool = False
    # Above this many customers, segments are scored in the warehouse (SQL) instead of passing
    # one row per customer through the customer_segments seed.
    seed_max_customers: int = 100_000
    # Above this many customers, K-means is fitted on a random sample of this size.
    fit_sample_size: int = 200_000
    # Your file names, column names and date formats (custseg.toml [inputs]); None = the usual.
    inputs: tuple[InputSpec, ...] | None = None

    @property
    def dbt_project_dir(self) -> Path:
        """The dbt project folder."""
        return self.project_root / DBT_PROJECT_FOLDER

    @property
    def seed_path(self) -> Path:
        """The published seed CSV that dbt loads as ``customer_segments``."""
        return self.dbt_project_dir / "seeds" / "customer_segments.csv"

    @property
    def parameters_path(self) -> Path:
        """The published seed CSV that dbt loads as ``segment_model_parameters``."""
        return self.dbt_project_dir / "seeds" / "segment_model_parameters.csv"

    @property
    def output_dir(self) -> Path:
        """Where the segments CSV, the model JSON and the metrics JSON go."""
        return self.project_root / OUTPUT_FOLDER

    @property
    def definitions_path(self) -> Path:
        """The published seed CSV that dbt loads as ``segment_definitions``."""
        return self.dbt_project_dir / "seeds" / "segment_definitions.csv"

    def dbt_vars(self) -> dict[str, str | None]:
        """The dbt vars of this run (the same for all its dbt calls: see ``dbt_invocation``)."""
        return {"as_of_date": self.as_of_date.isoformat() if self.as_of_date else None}


def find_project_root(start: Path) -> Path:
    """Return the nearest folder at or above ``start`` holding ``dbt_pipeline/dbt_project.yml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / DBT_PROJECT_FOLDER / "dbt_project.yml").is_file():
            return folder
    raise ConfigError(
        f"No {DBT_PROJECT_FOLDER}/dbt_project.yml found in {start} or any folder above it. "
        "Run custseg from the project folder or pass --project-dir."
    )


def parse_as_of_date(text: str | None) -> dt.date | None:
    """Parse ``YYYY-MM-DD``; None or an empty string means "use the data's default"."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--as-of-date {text!r} is not a date written YYYY-MM-DD (for example 2020-01-01)."
        ) from None


def resolve_run_config(
    *,
    data_dir: Path,
    project_dir: Path | None = None,
    duckdb_path: Path | None = None,
    target: str = "duckdb",
    as_of_date: str | None = None,
    n_segments: int | None = 5,
    random_state: int = 42,
    min_segment_share: float = 0.05,
    max_centroid_shift: float = 0.5,
    allow_unsupported_names: bool = False,
    seed_max_customers: int = 100_000,
    fit_sample_size: int = 200_000,
    inputs: tuple[InputSpec, ...] | None = None,
) -> RunConfig:
    """Validate user settings and fill in defaults (project root, warehouse file)."""
    project_root = find_project_root(project_dir or Path.cwd())
    if not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir}: no such folder.")
    if n_segments is not None and not MIN_SEGMENTS <= n_segments <= MAX_SEGMENTS:
        raise ConfigError(
            f"--k {n_segments}: the naming rules define {MAX_SEGMENTS} segments, so k must be "
            f"between {MIN_SEGMENTS} and {MAX_SEGMENTS} (or 'auto')."
        )
    if not 0 <= min_segment_share < 1:
        raise ConfigError(
            f"--min-segment-share {min_segment_share}: must be a share between 0 and 1 "
            "(0.05 means no segment under 5% of customers)."
        )
    if fit_sample_size < 1000 or seed_max_customers < 0:
        raise ConfigError(
            "--fit-sample-size must be at least 1000 and --seed-max-customers at least 0."
        )
    if max_centroid_shift <= 0:
        raise ConfigError(f"--max-centroid-shift {max_centroid_shift}: must be positive.")
    if duckdb_path is None:
        from_env = os.environ.get(DUCKDB_PATH_ENV)
        duckdb_path = (
            Path(from_env) if from_env else project_root / DBT_PROJECT_FOLDER / DEFAULT_DUCKDB_FILE
        )
    return RunConfig(
        data_dir=data_dir.resolve(),
        project_root=project_root,
        duckdb_path=duckdb_path.resolve(),
        target=target,
        as_of_date=parse_as_of_date(as_of_date),
        n_segments=n_segments,
        random_state=random_state,
        min_segment_share=min_segment_share,
        max_centroid_shift=max_centroid_shift,
        allow_unsupported_names=allow_unsupported_names,
        seed_max_customers=seed_max_customers,
        fit_sample_size=fit_sample_size,
        inputs=inputs,
    )
