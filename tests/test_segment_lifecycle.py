"""Publishing segments over time: definitions, stable ids, unsupported names, automatic k."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from custseg.errors import SegmentationError
from custseg.model.model_file import load_model
from custseg.pipeline import RunResult, run_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import K_SELECTION_FILE, ProjectLayout, resolve_settings
from tests.support import copy_project, copy_project_state


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate_sample_data(folder, n_customers=500, seed=11)
    return folder


@dataclass(frozen=True)
class FirstRun:
    """A project after one default run on the sample: the start of most tests here."""

    root: Path
    result: RunResult


@pytest.fixture(scope="module")
def first_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    root = copy_project(tmp_path_factory.mktemp("first_run") / "project")
    return FirstRun(root, run_pipeline(resolve_settings(data_dir=sample_dir, project_dir=root)))


@pytest.fixture
def published_root(first_run: FirstRun, tmp_path: Path) -> Path:
    """A copy of the project after the first run (warehouse included), for one test to change."""
    return copy_project_state(first_run.root, tmp_path / "project")


def outputs(root: Path) -> dict[str, bytes]:
    folders = [root / "ml_pipeline" / "models", ProjectLayout(root).published_seeds_dir]
    return {p.name: p.read_bytes() for folder in folders for p in sorted(folder.glob("*.csv"))} | {
        p.name: p.read_bytes() for p in sorted(folders[0].glob("*.json"))
    }


def test_definitions_are_published_and_a_retrain_keeps_ids(
    first_run: FirstRun, published_root: Path, sample_dir: Path
) -> None:
    project_root = published_root
    assert first_run.result.matching is None
    second = run_pipeline(
        resolve_settings(data_dir=sample_dir, project_dir=project_root, as_of_date="2020-01-05")
    )
    assert second.matching["definitions_changed"] is False
    assert {m["new_segment_id"]: m["previous_segment_id"] for m in second.matching["matches"]} == {
        i: i for i in range(5)
    }
    assert second.warnings == []

    seeds = ProjectLayout(project_root).published_seeds_dir
    with open(seeds / "segment_definitions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["segment_id"] for row in rows] == ["0", "1", "2", "3", "4"]
    assert all(row["name_check_passed"] == "true" for row in rows)
    assert rows[0]["naming_score"] == "2*zA - 0.5*zF"
    with duckdb.connect(str(second.duckdb_path)) as con:
        described = con.execute(
            "select count(*) from fct_customer_segments f join segment_definitions d "
            "using (segment_id) where f.segment_description = d.segment_description"
        ).fetchone()
    assert described == (second.n_customers,)
    _, document = load_model(second.model_path)
    assert document["metadata"]["matching_previous_model"]["definitions_changed"] is False


def test_a_large_move_is_reported_not_silently_renamed(
    published_root: Path, sample_dir: Path
) -> None:
    project_root = published_root
    again = run_pipeline(
        resolve_settings(
            data_dir=sample_dir,
            project_dir=project_root,
            as_of_date="2020-03-01",
            max_centroid_shift=0.01,
        )
    )
    assert again.matching["definitions_changed"] is True
    assert len(again.warnings) == 1
    assert again.warnings[0].startswith("segment definitions changed: segment ")
    assert "more than the 0.01 allowed" in again.warnings[0]


def test_unsupported_names_stop_publication_unless_allowed(
    published_root: Path, sample_dir: Path
) -> None:
    project_root = published_root
    before = outputs(project_root)
    # Five archetypes are planted: seven segments split them further than any name's rule
    # allows, and no free name of the catalogue holds for the split-off one-time buyers.
    with pytest.raises(SegmentationError) as caught:
        run_pipeline(resolve_settings(data_dir=sample_dir, project_dir=project_root, k=7))
    message = str(caught.value)
    assert "nothing was published" in message
    assert re.search(r"segment \d '[^']+': .+ Not met: ", message), message
    assert "--allow-unsupported-names" in message
    assert outputs(project_root) == before

    allowed = run_pipeline(
        resolve_settings(
            data_dir=sample_dir,
            project_dir=project_root,
            k=7,
            allow_unsupported_names=True,
        )
    )
    assert allowed.n_segments == 7
    assert any(w.startswith("name not supported by the data") for w in allowed.warnings)


def test_k_auto_records_the_evidence(project_root: Path, sample_dir: Path) -> None:
    result = run_pipeline(resolve_settings(data_dir=sample_dir, project_dir=project_root, k="auto"))
    selection = json.loads((result.model_path.parent / K_SELECTION_FILE).read_text())
    # Every output but the seeds and the segments CSV says which run and dataset wrote it.
    identity = {"run_id": result.run_id, "dataset": result.dataset}
    _, document = load_model(result.model_path)
    assert {key: document["metadata"][key] for key in identity} == identity
    assert {key: selection[key] for key in identity} == identity
    assert selection["input_fingerprint"] == document["metadata"]["input_fingerprint"]
    metrics = json.loads(result.metrics_path.read_text())
    assert {key: metrics[key] for key in identity} == identity
    assert result.report_path is not None
    report = result.report_path.read_text(encoding="utf-8")
    assert result.run_id in report and result.dataset in report
    assert result.to_dict()["run_id"] == result.run_id
    for path in (result.segments_path, *ProjectLayout(project_root).published_seed_paths.values()):
        assert result.run_id.encode() not in path.read_bytes(), path.name
    # Five archetypes are planted, and the planted Occasional Shoppers mix recent and dormant
    # low spenders: k=auto finds six segments, the dormant ones named from the wider catalogue.
    assert selection["chosen_k"] == 6
    assert result.n_segments == 6
    assert [e["k"] for e in selection["evaluations"]] == [2, 3, 4, 5, 6, 7, 8]
    assert sorted(s.segment_id for s in result.segments) == [0, 1, 2, 3, 4, 8]
    chosen = next(e for e in selection["evaluations"] if e["k"] == result.n_segments)
    assert chosen["eligible"] and chosen["smallest_segment_share"] >= 0.05


def test_a_tampered_published_model_is_refused_and_replaced(
    published_root: Path, sample_dir: Path
) -> None:
    project_root = published_root
    model_path = resolve_settings(data_dir=sample_dir, project_dir=project_root).layout.model_path
    text = model_path.read_text()
    tampered = text.replace('"n_customers_fit": 500', '"n_customers_fit": 501')
    assert tampered != text
    model_path.write_text(tampered)
    again = run_pipeline(resolve_settings(data_dir=sample_dir, project_dir=project_root))
    assert again.matching is None
    assert "cannot be used to keep segment ids" in again.warnings[0]
    load_model(again.model_path)  # the new model is sound


def test_another_datasets_model_is_not_compared_but_a_named_dataset_is(
    project_root: Path, sample_dir: Path, tmp_path: Path
) -> None:
    first = run_pipeline(resolve_settings(data_dir=sample_dir, project_dir=project_root))
    other_dir = tmp_path / "shop b"
    generate_sample_data(other_dir, n_customers=500, seed=12)
    other = run_pipeline(resolve_settings(data_dir=other_dir, project_dir=project_root))
    # The dataset is derived from the folder, not the content: a first run of shop b, whose
    # ids come from the naming rules, said in one calm line instead of "definitions changed".
    assert other.dataset.startswith("shop-b-") and other.dataset != first.dataset
    assert other.run_id != first.run_id
    assert other.matching is None
    assert other.warnings == []
    assert other.notes == [
        f"first run of dataset {other.dataset}: the published model is of dataset "
        f"{first.dataset}, so segment ids come from the naming rules and are not compared "
        "with it"
    ]
    _, document = load_model(other.model_path)
    assert document["metadata"]["dataset"] == other.dataset
    assert document["metadata"]["matching_previous_model"] is None

    # Named explicitly, two folders are one dataset: the model is compared with.
    named = run_pipeline(
        resolve_settings(data_dir=sample_dir, project_dir=project_root, dataset=other.dataset)
    )
    assert named.dataset == other.dataset
    assert named.notes == []
    assert named.matching is not None
