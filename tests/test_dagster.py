"""The optional Dagster orchestration (custseg.orchestration.dagster_defs): every asset
materialized in-process, once for the module, on generated data in a project copy on DuckDB;
then the job again on the same data, as a retrying schedule would run it."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from custseg.candidate import candidate_files
from custseg.errors import ConfigError
from custseg.orchestration.dagster_defs import (
    FEATURE_BUILD_FOLDER,
    JOB_NAME,
    SCHEDULE_NAME,
    build_definitions,
)
from custseg.sample import generate_sample_data
from custseg.settings import Settings, resolve_settings
from tests.support import PUBLISHED_FILES, copy_project

CRON = "30 5 * * *"
#: What the publication builds, by asset key (the dbt nodes' names).
PUBLISHED_ASSETS = {
    "customer_segments",
    "segment_definitions",
    "segment_model_parameters",
    "customer_segment_scores",
    "fct_customer_segments",
    "segment_runs",
    "segment_memberships",
    "fct_segment_transitions",
    "fct_segment_mix_projection",
    "segment_feature_bins",
    "fct_feature_drift",
    "fct_segment_drift",
    "move_model_terms",
    "fct_at_risk_candidates",
}


@dataclasses.dataclass(frozen=True)
class Materialized:
    settings: Settings
    definitions: dg.Definitions
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> Materialized:
    base = tmp_path_factory.mktemp("dagster")
    generate_sample_data(base / "data", n_customers=300, seed=5)
    settings = resolve_settings(data_dir=base / "data", project_dir=copy_project(base / "project"))
    definitions = build_definitions(settings, cron=CRON)
    result = definitions.resolve_job_def(JOB_NAME).execute_in_process(raise_on_error=False)
    return Materialized(settings=settings, definitions=definitions, result=result)


def key_names(keys: object) -> set[str]:
    return {key.to_user_string() for key in keys}  # type: ignore[attr-defined]


def test_every_asset_is_materialized(materialized: Materialized) -> None:
    result = materialized.result
    failures = [event.message for event in result.all_events if event.is_step_failure]
    assert result.success, failures
    graph = materialized.definitions.resolve_asset_graph()
    every_asset = key_names(graph.get_all_asset_keys())
    materializations = key_names(
        event.asset_key for event in result.get_asset_materialization_events()
    )
    assert materializations == every_asset
    # From the raw tables through the features and the model to the publication.
    assert {
        "marketing_insights/online_sales",
        "customer_features",
        "fct_sales",
        "segment_model",
    } | PUBLISHED_ASSETS <= every_asset


def test_the_dbt_tests_ran_as_asset_checks_and_passed(materialized: Materialized) -> None:
    evaluations = materialized.result.get_asset_check_evaluations()
    checked = key_names(evaluation.asset_key for evaluation in evaluations)
    assert {"customer_features", "marketing_insights/online_sales"} <= checked
    assert [evaluation.check_name for evaluation in evaluations if not evaluation.passed] == []


def test_the_publication_is_on_disk_and_in_the_history(materialized: Materialized) -> None:
    settings = materialized.settings
    root = settings.layout.root
    assert [name for name in PUBLISHED_FILES if not (root / name).is_file()] == []
    assert not candidate_files(settings).folder.exists()
    model = json.loads(settings.layout.model_path.read_text(encoding="utf-8"))
    assert settings.duckdb_path is not None
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        runs = con.execute("select as_of_date, run_id from segment_runs").fetchall()
        dates = con.execute("select distinct as_of_date from segment_memberships").fetchall()
        (members,) = con.execute("select count(*) from segment_memberships").fetchone()
    assert [(day.isoformat(), run_id) for day, run_id in runs] == [
        (model["metadata"]["as_of_date"], model["metadata"]["run_id"])
    ]
    assert dates == [(runs[0][0],)]
    assert members == model["metadata"]["n_customers"] == 300


def test_the_graph_runs_from_the_features_through_the_model_to_the_seeds(
    materialized: Materialized,
) -> None:
    graph = materialized.definitions.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return key_names(graph.get(dg.AssetKey(name)).parent_keys)

    assert parents("segment_model") == {"customer_features"}
    assert "segment_model" in parents("customer_segments")
    assert {"customer_features", "customer_segments"} <= parents("fct_customer_segments")
    assert "segment_runs" in parents("segment_memberships")
    published = materialized.definitions.resolve_assets_def(dg.AssetKey("segment_runs"))
    assert key_names(published.keys) == PUBLISHED_ASSETS


def test_the_job_and_the_daily_schedule_are_defined(materialized: Materialized) -> None:
    definitions = materialized.definitions
    schedule = definitions.resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.cron_schedule == CRON
    assert schedule.job_name == JOB_NAME
    assert definitions.resolve_job_def(JOB_NAME).name == JOB_NAME


def test_definitions_need_a_data_folder(tmp_path: Path) -> None:
    settings = resolve_settings(project_dir=copy_project(tmp_path / "project"))
    with pytest.raises(ConfigError, match="No data folder"):
        build_definitions(settings)


def test_definitions_name_an_unknown_policy(tmp_path: Path) -> None:
    settings = resolve_settings(data_dir=tmp_path, project_dir=copy_project(tmp_path / "project"))
    with pytest.raises(ConfigError, match="Unknown model policy 'weekly': use one of retrain"):
        build_definitions(settings, policy="weekly")  # type: ignore[arg-type]


def test_without_dagster_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import dagster` fail as when it is not installed.
    monkeypatch.setitem(sys.modules, "dagster", None)
    monkeypatch.delitem(sys.modules, "custseg.orchestration.dagster_defs")
    importlib.import_module("custseg.orchestration")
    with pytest.raises(ImportError, match=r"pip install 'custseg\[dagster\]'"):
        importlib.import_module("custseg.orchestration.dagster_defs")


def test_the_job_again_on_the_same_data_publishes_nothing_and_skips_the_publication(
    materialized: Materialized,
) -> None:
    """The schedule's model step decides as `custseg refresh` (the default refresh policy):
    the same data a second time is nothing new, so the publication's assets are skipped and the
    files and the history stay as the first materialization left them."""
    settings = materialized.settings
    root = settings.layout.root
    files = {name: (root / name).read_bytes() for name in PUBLISHED_FILES}
    again = materialized.definitions.resolve_job_def(JOB_NAME).execute_in_process(
        raise_on_error=False
    )
    failures = [event.message for event in again.all_events if event.is_step_failure]
    assert again.success, failures
    events = again.get_asset_materialization_events()
    materialized_now = key_names(event.asset_key for event in events)
    assert "segment_model" in materialized_now
    assert materialized_now.isdisjoint(PUBLISHED_ASSETS)
    (model_event,) = [event for event in events if event.asset_key == dg.AssetKey("segment_model")]
    metadata = model_event.materialization.metadata
    assert metadata["action"].value == "unchanged"
    assert "already published" in metadata["reasons"].value
    assert {name: (root / name).read_bytes() for name in PUBLISHED_FILES} == files
    assert settings.duckdb_path is not None
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        (runs,) = con.execute("select count(*) from segment_runs").fetchone()
    assert runs == 1
    assert not candidate_files(settings).folder.exists()
    # Both materializations' dbt builds wrote into one folder, not one folder each.
    target = settings.dbt_project_dir / "target"
    assert [path.name for path in target.iterdir() if path.name.startswith("feature_models")] == []
    assert (settings.dbt_project_dir / FEATURE_BUILD_FOLDER / "run_results.json").is_file()


def test_the_first_materialization_was_a_first_refresh(materialized: Materialized) -> None:
    (model_event,) = [
        event
        for event in materialized.result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("segment_model")
    ]
    assert model_event.materialization.metadata["action"].value == "first"
