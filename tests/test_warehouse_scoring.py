"""Large runs: fit on a sample, score every customer in SQL, no per-customer seed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb

from custseg.pipeline import run_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import resolve_settings


def test_large_runs_score_in_the_warehouse_and_agree_with_python(
    project_root: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    generate_sample_data(data_dir, n_customers=2500, seed=5)
    config = resolve_settings(
        data_dir=data_dir, project_dir=project_root, seed_max_customers=1000, fit_sample_size=1000
    )
    result = run_pipeline(config)

    assert result.segments_scored_in_warehouse
    assert config.layout.segments_seed_path.read_text() == "customer_id,segment_id,segment_name\n"
    document = json.loads(result.model_path.read_text())
    assert document["metadata"]["config"]["fit_sample_size"] == 1000
    assert document["model"]["n_customers_fit"] == 1000

    with open(result.segments_path, newline="") as handle:
        python = {row["customer_id"]: int(row["segment_id"]) for row in csv.DictReader(handle)}
    assert len(python) == 2500
    with duckdb.connect(str(result.duckdb_path)) as con:
        mart = dict(
            con.execute("select customer_id, segment_id from fct_customer_segments").fetchall()
        )
    assert mart == python
    assert sum(segment.customers for segment in result.segments) == 2500
    assert set(result.stage_seconds) >= {"load", "features", "fit", "publish", "outputs"}
