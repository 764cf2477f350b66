"""The run as four steps (custseg.steps): in order, they publish what one `custseg run` publishes.

The reference run is the session's published sample (tests/conftest.py: 300 generated
customers, one default run on a fresh project copy); the steps run on another fresh copy with
the same data and settings, once for the module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from custseg.candidate import candidate_files
from custseg.errors import ConfigError, DbtError
from custseg.features import build_feature_models
from custseg.model.model_file import load_model
from custseg.run_result import RunResult
from custseg.settings import Settings, resolve_settings
from custseg.steps import (
    CandidateModel,
    FeaturesSummary,
    features_step,
    load_step,
    model_step,
    publish_step,
)
from custseg.warehouses import open_warehouse
from tests.support import (
    PUBLISHED_FILES,
    PUBLISHED_SAMPLE_DATASET,
    PublishedSample,
    comparable,
    copy_project,
    copy_project_state,
)


@dataclasses.dataclass(frozen=True)
class StepRun:
    settings: Settings
    loaded_tables: list[str]
    features: FeaturesSummary
    candidate: CandidateModel
    # The candidate's bytes as the model step wrote them.
    candidate_bytes: bytes
    result: RunResult


@pytest.fixture(scope="module")
def step_run(
    published_sample: PublishedSample, tmp_path_factory: pytest.TempPathFactory
) -> StepRun:
    root = copy_project(tmp_path_factory.mktemp("steps") / "project")
    settings = resolve_settings(
        data_dir=published_sample.data_dir, project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET
    )
    loaded = load_step(settings)
    features = features_step(settings)
    candidate = model_step(settings)
    candidate_bytes = candidate.model_path.read_bytes()
    result = publish_step(settings)
    return StepRun(
        settings=settings,
        loaded_tables=[table.table_name for table in loaded],
        features=features,
        candidate=candidate,
        candidate_bytes=candidate_bytes,
        result=result,
    )


def published_files(root: Path) -> list[str]:
    """Every file a publication left in the project, relative to its root."""
    folders = [root / "ml_pipeline" / "models", root / "dbt_pipeline" / "seeds" / "published"]
    return sorted(
        path.relative_to(root).as_posix()
        for folder in folders
        for path in folder.iterdir()
        if path.is_file()
    )


def test_the_steps_publish_what_one_run_publishes(
    step_run: StepRun, published_sample: PublishedSample
) -> None:
    root = step_run.settings.layout.root
    assert published_files(root) == published_files(published_sample.root)
    assert set(PUBLISHED_FILES) <= set(published_files(root))
    for name in published_files(root):
        assert comparable(root / name) == comparable(published_sample.root / name), name
    assert step_run.result.segments == published_sample.result.segments
    assert step_run.result.as_of_date == published_sample.result.as_of_date


def test_the_published_model_is_the_candidate_and_the_candidate_is_gone(
    step_run: StepRun,
) -> None:
    layout = step_run.settings.layout
    assert layout.model_path.read_bytes() == step_run.candidate_bytes
    _, document = load_model(layout.model_path)
    # One run id in every output of the steps: the model step's.
    assert document["metadata"]["run_id"] == step_run.candidate.run_id == step_run.result.run_id
    metrics = json.loads(layout.metrics_path.read_text(encoding="utf-8"))
    assert metrics["run_id"] == step_run.candidate.run_id
    assert not candidate_files(step_run.settings).folder.exists()


def test_each_step_returns_what_it_did(step_run: StepRun) -> None:
    assert sorted(step_run.loaded_tables) == [
        "customers_data",
        "discount_coupon",
        "marketing_spend",
        "online_sales",
        "tax_amount",
    ]
    assert step_run.features.n_customers == 300
    assert step_run.features.as_of_date == step_run.result.as_of_date
    assert step_run.candidate.input_fingerprint == step_run.features.input_fingerprint
    assert step_run.candidate.dataset == PUBLISHED_SAMPLE_DATASET
    assert step_run.candidate.n_segments == step_run.result.n_segments


def test_the_history_holds_the_steps_publication(step_run: StepRun) -> None:
    assert step_run.settings.duckdb_path is not None
    with duckdb.connect(str(step_run.settings.duckdb_path), read_only=True) as con:
        runs = con.execute("select as_of_date, run_id from segment_runs").fetchall()
        members = con.execute("select count(*) from segment_memberships").fetchone()
    assert runs == [(step_run.result.as_of_date, step_run.result.run_id)]
    assert members == (300,)


def test_a_candidate_fitted_on_other_features_is_refused_until_they_are_back(
    step_run: StepRun, tmp_path: Path
) -> None:
    root = copy_project_state(step_run.settings.layout.root, tmp_path / "project")
    settings = resolve_settings(project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET, k="auto")
    candidate = model_step(settings)
    evidence = candidate_files(settings).k_selection_path.read_bytes()
    # The features change under the candidate: an earlier as-of date drops the last month.
    earlier = resolve_settings(
        project_dir=root,
        dataset=PUBLISHED_SAMPLE_DATASET,
        as_of_date=step_run.result.as_of_date - dt.timedelta(days=30),
    )
    assert features_step(earlier).input_fingerprint != candidate.input_fingerprint
    published = {name: (root / name).read_bytes() for name in published_files(root)}

    with pytest.raises(ConfigError, match="features changed since the model step: run it again"):
        publish_step(earlier)

    assert {name: (root / name).read_bytes() for name in published_files(root)} == published
    assert candidate.model_path.is_file()
    # The same features again: the candidate (k chosen automatically) is published, its
    # evidence for k as the model step wrote it.
    assert features_step(settings).input_fingerprint == candidate.input_fingerprint
    result = publish_step(settings)
    assert result.run_id == candidate.run_id
    assert result.n_segments == json.loads(evidence)["chosen_k"]
    assert settings.layout.k_selection_path.read_bytes() == evidence


def test_publish_without_a_candidate_says_to_run_the_model_step(step_run: StepRun) -> None:
    with pytest.raises(ConfigError, match="No candidate model at .*run the model step first"):
        publish_step(step_run.settings)


def test_a_candidate_without_its_decision_is_refused(step_run: StepRun, tmp_path: Path) -> None:
    """A model file left without decision.json (an interrupted model step, or one of an older
    custseg) is not published: the publish step says to run the model step again."""
    root = copy_project_state(step_run.settings.layout.root, tmp_path / "project")
    settings = resolve_settings(project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET)
    candidate = model_step(settings)
    assert candidate.action == "retrained" and candidate.model_path.is_file()
    decision = json.loads(candidate_files(settings).decision_path.read_text(encoding="utf-8"))
    assert decision["run_id"] == candidate.run_id and decision["retrained"] is True
    assert decision["input_fingerprint"] == step_run.features.input_fingerprint
    published = {name: (root / name).read_bytes() for name in published_files(root)}
    candidate_files(settings).decision_path.unlink()

    with pytest.raises(ConfigError, match=r"has no decision\.json .*run the model step again"):
        publish_step(settings)

    assert {name: (root / name).read_bytes() for name in published_files(root)} == published


def test_the_build_after_a_load_leaves_out_the_tests_the_load_guarantees(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    """A sale naming a customer the customer file lacks breaks an input rule, so no load of
    custseg's lets it in; put there by hand, it fails the features step's build (every test
    runs), while the build that follows a load (``just_loaded``) leaves out the tests tagged
    ``guaranteed_by_load`` and only those."""
    root = copy_project(tmp_path / "project")
    settings = resolve_settings(
        data_dir=published_sample.data_dir, project_dir=root, dataset=PUBLISHED_SAMPLE_DATASET
    )
    load_step(settings)
    assert settings.duckdb_path is not None
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(
            "insert into raw.online_sales (file_line_number, customerid, transaction_id, "
            "transaction_date, product_sku, product_category, quantity, avg_price, "
            "delivery_charges, coupon_status) select max(file_line_number) + 1, "
            "'not-a-customer', 'T-1', '6/1/2019', any_value(product_sku), "
            "any_value(product_category), '1', '10', '0', 'Not Used' from raw.online_sales"
        )
    with pytest.raises(DbtError, match="relationships_when_given_stg_marketing_insights__sales"):
        features_step(settings)

    with open_warehouse(settings) as warehouse:
        results = build_feature_models(settings, warehouse, just_loaded=True)
    ran = {result.unique_id.split(".")[2] for result in results}
    assert not any(name.startswith("relationships_when_given_stg") for name in ran)
    assert not any(name.startswith("source_") for name in ran)
    assert "unique_dim_customer_customer_id" in ran
    assert {result.status for result in results} <= {"success", "pass"}
