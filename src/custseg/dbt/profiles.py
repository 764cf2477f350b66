"""The check that dbt's profile talks to the warehouse custseg loads and reads.

custseg opens its own connection (raw loads, reading features back) from its settings, and
dbt opens one from ``profiles.yml``. With the project's own ``dbt_pipeline/profiles.yml`` both
read the same variables (``CUSTSEG_DUCKDB_PATH``, ``PG*``, ``SNOWFLAKE_*``), so they agree. A
user's ``profiles.yml`` (``--profiles-dir``, ``DBT_PROFILES_DIR``) may name another database: on
DuckDB the two files are compared after dbt's own rendering of the profile (its ``env_var()``
with the environment a run gives dbt), and a difference stops the command before anything is
loaded, naming both files and what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from custseg.dbt.runner import environment_overrides
from custseg.errors import ConfigError
from custseg.settings import PROFILES_FILE, Settings

#: The profile dbt_pipeline/dbt_project.yml names.
PROFILE_NAME = "custseg"
#: DuckDB paths that are not a file custseg could load into.
_IN_MEMORY = {":memory:", ""}


def check_profile(settings: Settings, dbt_env: Mapping[str, str]) -> None:
    """Refuse a profile whose DuckDB output is another file than ``settings.duckdb_path``.

    Only a profiles.yml outside the project is read: the project's own reads
    ``CUSTSEG_DUCKDB_PATH``, which custseg sets. Other engines are not compared here: custseg
    reads their standard variables (``PG*``, ``SNOWFLAKE_*``), which the profile must read too
    (see the README, *Use custseg in your own project*).

    Raises
    ------
    ConfigError
        The profile or its output is missing, or its DuckDB path is another file.
    """
    profiles_dir = settings.profiles_dir
    if settings.target != "duckdb" or profiles_dir is None:
        return
    if profiles_dir.resolve() == settings.dbt_project_dir.resolve():
        return
    output = _rendered_output(profiles_dir, settings.target, dbt_env)
    where = f"{profiles_dir / PROFILES_FILE}, profile {PROFILE_NAME}, output {settings.target}"
    raw_path = str(output.get("path", "")).strip()
    if raw_path in _IN_MEMORY or raw_path.startswith("md:"):
        raise ConfigError(
            f"{where}: path {raw_path or '(none)'!r} is not a DuckDB file, but custseg loads "
            f"the raw tables into {settings.duckdb_path}. Set its path to "
            "\"{{ env_var('CUSTSEG_DUCKDB_PATH') }}\", or to that file."
        )
    # dbt-duckdb opens a relative path from the folder dbt runs in: custseg's.
    profile_path = Path(raw_path).expanduser().resolve()
    if profile_path != settings.duckdb_path:
        raise ConfigError(
            f"{where}: dbt would build in {profile_path}, but custseg loads the raw tables "
            f"into {settings.duckdb_path}. Pass --duckdb-path {profile_path} (or set "
            "CUSTSEG_DUCKDB_PATH), or set the output's path to "
            "\"{{ env_var('CUSTSEG_DUCKDB_PATH') }}\"."
        )


def _rendered_output(profiles_dir: Path, target: str, dbt_env: Mapping[str, str]) -> Any:
    """Output ``target`` of profile ``custseg``, rendered by dbt as a run would render it."""
    from dbt.config.profile import read_profile  # late: dbt's import costs most of a second
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.exceptions import DbtBaseException

    path = profiles_dir / PROFILES_FILE
    try:
        profiles = read_profile(str(profiles_dir))
    except DbtBaseException as exc:
        raise ConfigError(f"{path}: dbt cannot read it ({str(exc).strip()}).") from exc
    profile = profiles.get(PROFILE_NAME) if isinstance(profiles, dict) else None
    outputs = profile.get("outputs") if isinstance(profile, dict) else None
    if not isinstance(outputs, dict) or not isinstance(outputs.get(target), dict):
        found = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else "none"
        raise ConfigError(
            f"{path}: no output {target!r} in a profile {PROFILE_NAME!r} (profiles found: "
            f"{found or 'none'}). custseg's dbt project uses the profile {PROFILE_NAME!r}; add "
            "it with that output (dbt_pipeline/profiles.yml is a complete example)."
        )
    try:
        with environment_overrides(dbt_env):
            return ProfileRenderer().render_data(outputs[target])
    except DbtBaseException as exc:
        raise ConfigError(f"{path}, output {target}: {str(exc).strip()}") from exc
