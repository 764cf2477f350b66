"""custseg in an existing dbt project: its dbt project as a `local:` package, one warehouse.

The README's steps, on DuckDB: `custseg init` + `generate-sample` + `custseg run` (reading the
user's profiles.yml), then `dbt deps` and `dbt build` in the user's project, whose model selects
from `ref('fct_customer_segments')`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

USER_MODEL = "customers_by_segment"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def user_project(folder: Path, warehouse: Path) -> Path:
    """A dbt project of its own (profile `shop`) with custseg as a local package; its
    profiles.yml also holds the profile `custseg`, on the same DuckDB file."""
    write(
        folder / "dbt_project.yml",
        """
        name: shop
        version: "1.0.0"
        config-version: 2
        profile: shop
        flags:
          send_anonymous_usage_stats: false
        """,
    )
    write(folder / "packages.yml", "packages:\n  - local: ../custseg_project/dbt_pipeline\n")
    write(
        folder / "profiles.yml",
        f"""
        shop:
          target: dev
          outputs:
            dev: {{type: duckdb, path: "{warehouse}", schema: main, threads: 2}}
        custseg:
          target: duckdb
          outputs:
            duckdb: {{type: duckdb, path: "{warehouse}", schema: main, threads: 2}}
        """,
    )
    write(
        folder / "models" / f"{USER_MODEL}.sql",
        """
        select customer_id, segment_id, segment_name, lifetime_revenue
        from {{ ref('fct_customer_segments') }}
        """,
    )
    return folder


def command(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``name`` command of this environment (custseg or dbt), as a user runs it in ``cwd``.

    In their own processes: dbt-duckdb keeps the DuckDB file open in the process that ran dbt
    in-process, and another process could not open it then.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CUSTSEG_")}
    env.pop("DBT_PROFILES_DIR", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / name), *args],
        cwd=cwd,
        env={**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def test_a_dbt_project_uses_custseg_as_a_local_package(tmp_path: Path) -> None:
    root = tmp_path / "custseg_project"
    warehouse = root / "dbt_pipeline" / "custseg.duckdb"
    shop = user_project(tmp_path / "shop", warehouse)
    command("custseg", "init", str(root), "--quiet", cwd=tmp_path)
    # dbt can only have read the user's profiles.yml: the project's own is gone.
    (root / "dbt_pipeline" / "profiles.yml").unlink()
    command("custseg", "generate-sample", "--out", "data", "--customers", "1000", cwd=root)
    ran = command(
        "custseg",
        "run",
        "--config",
        "custseg.toml",
        "--profiles-dir",
        str(shop),
        "--json",
        cwd=root,
    )
    n_customers = json.loads(ran.stdout)["n_customers"]
    assert n_customers > 900

    command("dbt", "deps", "--profiles-dir", ".", cwd=shop)
    assert (shop / "dbt_packages" / "custseg" / "dbt_project.yml").is_file()
    command("dbt", "build", "--profiles-dir", ".", cwd=shop)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows, customers, named = connection.execute(
            f"select count(*), count(distinct customer_id), count(segment_name) from {USER_MODEL}"
        ).fetchone()
        published = connection.execute("select count(*) from customer_segments").fetchone()
    assert rows == customers == named == n_customers
    assert published == (n_customers,)
