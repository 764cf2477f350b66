"""Header-only placeholders of the published seeds: written where missing, never over a file."""

from __future__ import annotations

from pathlib import Path

import yaml

from custseg.dbt.placeholders import ensure_seed_placeholders, main
from custseg.settings import PUBLISHED_SEEDS, ProjectLayout, header_line
from tests.support import REPO_ROOT


def test_only_missing_seeds_get_a_placeholder(project_root: Path) -> None:
    layout = ProjectLayout(project_root)
    paths = layout.published_seed_paths
    paths["segment_definitions"].parent.mkdir(parents=True)
    published = b"segment_id,segment_name\n0,Big Spenders\n"
    paths["segment_definitions"].write_bytes(published)

    written = ensure_seed_placeholders(layout.dbt_project_dir)

    missing = ("customer_segments", "segment_model_parameters", "backfill_model_parameters")
    assert written == [paths[name] for name in missing]
    assert paths["segment_definitions"].read_bytes() == published
    for name in missing:
        assert paths[name].read_bytes() == header_line(name)
    assert ensure_seed_placeholders(layout.dbt_project_dir) == []
    # Nothing but the published seeds: no temporary file is left beside them.
    assert sorted(path.name for path in layout.published_seeds_dir.iterdir()) == sorted(
        f"{name}.csv" for name in PUBLISHED_SEEDS
    )


def test_the_command_writes_the_placeholders(project_root: Path, capsys) -> None:
    assert main(["--project-dir", str(project_root)]) == 0
    seeds = ProjectLayout(project_root).published_seed_paths
    assert capsys.readouterr().out.splitlines() == [f"Placeholder: {p}" for p in seeds.values()]
    assert main(["--project-dir", str(project_root)]) == 0
    assert capsys.readouterr().out == ""


def test_the_headers_are_the_columns_seeds_yml_describes() -> None:
    document = yaml.safe_load((REPO_ROOT / "dbt_pipeline/seeds/_seeds.yml").read_text())
    described = {
        seed["name"]: tuple(column["name"] for column in seed["columns"])
        for seed in document["seeds"]
    }
    assert described == PUBLISHED_SEEDS
