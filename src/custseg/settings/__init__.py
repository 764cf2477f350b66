"""Every setting of a run, its one default, and the files a project holds.

A setting is given, from strongest to weakest:

1. on the command line (``--as-of-date 2020-01-01``);
2. by an environment variable ``CUSTSEG_<SETTING>`` (``CUSTSEG_AS_OF_DATE=2020-01-01``);
3. in the ``[run]`` table of a ``custseg.toml`` (``as_of_date = 2020-01-01``, see
   :mod:`custseg.config_file`);
4. else it takes its default, written once, in :class:`Settings`.

The command line's options default to "not given" and the estimator and the k selection take
their defaults from here, so no default is written twice.

- :mod:`~custseg.settings.options`: how each setting is written (``--as-of-date``,
  ``CUSTSEG_AS_OF_DATE``, ``as_of_date``), documented and read (:data:`OPTIONS`);
- :mod:`~custseg.settings.run`: :class:`Settings` with every default, the fixed model and engine
  choices, and :func:`resolve`, which merges the sources, checks every value (naming where it
  came from when it is wrong) and finds the project;
- :mod:`~custseg.settings.layout`: the folders and files of a project (:class:`ProjectLayout`);
- :mod:`~custseg.settings.published_seeds`: the names and headers of the seeds a run publishes.
"""

from custseg.settings.layout import (
    DBT_PROJECT_FOLDER,
    DUCKDB_FILE,
    K_SELECTION_FILE,
    METRICS_FILE,
    MODEL_FILE,
    OUTPUT_FOLDER,
    PUBLISHED_SEEDS_FOLDER,
    REPORT_FILE,
    SEGMENTS_FILE,
    ProjectLayout,
    find_project_root,
    published_seed_paths,
)
from custseg.settings.options import (
    CONFIG_ENV,
    CONFIG_FILE_NAME,
    ENV_PREFIX,
    OPTIONS,
    TARGETS,
    Option,
)
from custseg.settings.published_seeds import PUBLISHED_SEEDS, header_line
from custseg.settings.run import (
    BOOTSTRAP_FRACTION,
    DBT_PROFILES_DIR_ENV,
    DEFAULTS,
    DUCKDB_MEMORY_LIMIT_DEFAULT,
    DUCKDB_MEMORY_LIMIT_ENV,
    N_BOOTSTRAP,
    N_INIT,
    PROFILES_FILE,
    SAMPLE_CUSTOMERS,
    SAMPLE_FORMAT,
    SAMPLE_SEED,
    SCHEMA_DEFAULT,
    SCHEMA_ENV,
    SEGMENT_SOURCE_ENV,
    SILHOUETTE_SAMPLE_SIZE,
    Given,
    Settings,
    command_line,
    default_of,
    environment,
    read_value,
    resolve,
    resolve_settings,
)

__all__ = [
    "BOOTSTRAP_FRACTION",
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "DBT_PROFILES_DIR_ENV",
    "DBT_PROJECT_FOLDER",
    "DEFAULTS",
    "DUCKDB_FILE",
    "DUCKDB_MEMORY_LIMIT_DEFAULT",
    "DUCKDB_MEMORY_LIMIT_ENV",
    "ENV_PREFIX",
    "K_SELECTION_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "N_BOOTSTRAP",
    "N_INIT",
    "OPTIONS",
    "OUTPUT_FOLDER",
    "PROFILES_FILE",
    "PUBLISHED_SEEDS",
    "PUBLISHED_SEEDS_FOLDER",
    "REPORT_FILE",
    "SAMPLE_CUSTOMERS",
    "SAMPLE_FORMAT",
    "SAMPLE_SEED",
    "SCHEMA_DEFAULT",
    "SCHEMA_ENV",
    "SEGMENTS_FILE",
    "SEGMENT_SOURCE_ENV",
    "SILHOUETTE_SAMPLE_SIZE",
    "TARGETS",
    "Given",
    "Option",
    "ProjectLayout",
    "Settings",
    "command_line",
    "default_of",
    "environment",
    "find_project_root",
    "header_line",
    "published_seed_paths",
    "read_value",
    "resolve",
    "resolve_settings",
]
