"""Where a project keeps its dbt project, published seeds and the ML step's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from custseg.errors import ConfigError
from custseg.settings.published_seeds import PUBLISHED_SEEDS

DBT_PROJECT_FOLDER = "dbt_pipeline"
#: Where the published seeds live, inside the dbt project (dbt finds seeds in sub-folders of
#: ``seeds/``). Git ignores the folder: the seeds hold customer ids, which never belong in git.
PUBLISHED_SEEDS_FOLDER = Path("seeds") / "published"
OUTPUT_FOLDER = Path("ml_pipeline") / "models"
DUCKDB_FILE = "custseg.duckdb"
SEGMENTS_FILE = "customer_segments.csv"
MODEL_FILE = "segment_model.json"
METRICS_FILE = "evaluation_metrics.json"
K_SELECTION_FILE = "k_selection.json"
REPORT_FILE = "segment_report.html"
MOVE_MODEL_FILE = "move_model.json"
PROJECT_LOCK_FILE = "custseg-project.lock"
PUBLICATION_JOURNAL_FILE = ".custseg-publication.json"


@dataclass(frozen=True)
class ProjectLayout:
    """Where a project keeps its dbt project, published seeds and the ML step's outputs."""

    # The folder holding dbt_pipeline/ and ml_pipeline/.
    root: Path

    @property
    def dbt_project_dir(self) -> Path:
        return self.root / DBT_PROJECT_FOLDER

    @property
    def published_seeds_dir(self) -> Path:
        """The git-ignored folder of the seeds a run publishes."""
        return published_seeds_dir(self.dbt_project_dir)

    @property
    def published_seed_paths(self) -> dict[str, Path]:
        """Every published seed: name -> file."""
        return published_seed_paths(self.dbt_project_dir)

    @property
    def segments_seed_path(self) -> Path:
        """The published seed ``customer_segments``."""
        return self.published_seed_paths["customer_segments"]

    @property
    def definitions_seed_path(self) -> Path:
        """The published seed ``segment_definitions``."""
        return self.published_seed_paths["segment_definitions"]

    @property
    def parameters_seed_path(self) -> Path:
        """The published seed ``segment_model_parameters``."""
        return self.published_seed_paths["segment_model_parameters"]

    @property
    def feature_bins_seed_path(self) -> Path:
        """The published seed ``segment_feature_bins`` (the drift reference's bins)."""
        return self.published_seed_paths["segment_feature_bins"]

    @property
    def output_dir(self) -> Path:
        """Where the segments CSV, the model, its metrics and the report go."""
        return self.root / OUTPUT_FOLDER

    @property
    def segments_path(self) -> Path:
        return self.output_dir / SEGMENTS_FILE

    @property
    def model_path(self) -> Path:
        return self.output_dir / MODEL_FILE

    @property
    def metrics_path(self) -> Path:
        return self.output_dir / METRICS_FILE

    @property
    def k_selection_path(self) -> Path:
        return self.output_dir / K_SELECTION_FILE

    @property
    def report_path(self) -> Path:
        return self.output_dir / REPORT_FILE

    @property
    def move_model_path(self) -> Path:
        """The move model of ``custseg moves``, with its out-of-time evaluation."""
        return self.output_dir / MOVE_MODEL_FILE

    @property
    def journal_path(self) -> Path:
        """The journal of a publication in progress (see custseg.publish.journal)."""
        return self.output_dir / PUBLICATION_JOURNAL_FILE

    @property
    def default_duckdb_path(self) -> Path:
        return self.dbt_project_dir / DUCKDB_FILE

    @property
    def lock_path(self) -> Path:
        """The lock that keeps two runs off one project, whatever warehouse each uses."""
        return self.dbt_project_dir / "target" / PROJECT_LOCK_FILE


def published_seeds_dir(dbt_project_dir: Path) -> Path:
    """The folder of the published seeds in the dbt project ``dbt_project_dir``."""
    return dbt_project_dir / PUBLISHED_SEEDS_FOLDER


def published_seed_paths(dbt_project_dir: Path) -> dict[str, Path]:
    """Every published seed of the dbt project ``dbt_project_dir``: name -> file."""
    folder = published_seeds_dir(dbt_project_dir)
    return {name: folder / f"{name}.csv" for name in PUBLISHED_SEEDS}


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``dbt_pipeline/dbt_project.yml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / DBT_PROJECT_FOLDER / "dbt_project.yml").is_file():
            return folder
    raise ConfigError(
        f"No {DBT_PROJECT_FOLDER}/dbt_project.yml found in {start} or any folder above it. "
        "Run custseg from the project folder or pass --project-dir."
    )
