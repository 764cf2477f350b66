"""`custseg refresh` and `custseg drift` on generated data with a stable and a shifted period.

One module fixture trains on 300 generated customers as of 2019-12-01. A week later the same
customers, with no order planted, are a stable period: the refresh scores them with the published
model and no alarm sounds. The shifted period plants a behaviour change in the last weeks: half
the customers place a new, large order just before the as-of date, so recency collapses and the
order value climbs for them; the drift alarm sounds and the refresh retrains. The orchestrated
steps with the refresh policy (custseg.steps, as the Dagster schedule runs them) decide and
publish as the refresh does in both periods.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import random
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from custseg.candidate import candidate_files
from custseg.cli import cli
from custseg.cli_monitoring import DRIFT_EXIT_CODE
from custseg.errors import ConfigError
from custseg.model.model_file import load_model
from custseg.pipeline import run_pipeline
from custseg.refresh import RefreshResult, drift_pipeline, refresh_pipeline
from custseg.sample import generate_sample_data
from custseg.settings import Settings, resolve_settings
from custseg.steps import (
    CandidateModel,
    features_step,
    load_step,
    model_step,
    publish_step,
)
from tests.support import comparable, copy_project, copy_project_state

TRAINED_AS_OF = dt.date(2019, 12, 1)


@dataclasses.dataclass(frozen=True)
class Trained:
    root: Path
    data: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    base = tmp_path_factory.mktemp("refresh")
    data = base / "data"
    generate_sample_data(data, n_customers=300, seed=3)
    root = copy_project(base / "project")
    run_pipeline(resolve_settings(data_dir=data, project_dir=root, as_of_date=TRAINED_AS_OF))
    return Trained(root=root, data=data)


def plant_shift(data: Path, destination: Path, as_of_date: dt.date, seed: int = 7) -> Path:
    """A copy of ``data`` where half the customers place one large order three days before
    ``as_of_date`` (ten of their most expensive product): a behaviour shift in the last period."""
    shutil.copytree(data, destination)
    sales = destination / "Online_Sales.csv"
    with open(sales, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    by_customer: dict[str, dict[str, str]] = {}
    for row in rows:
        best = by_customer.get(row["CustomerID"])
        if best is None or float(row["Avg_Price"]) > float(best["Avg_Price"]):
            by_customer[row["CustomerID"]] = row
    customers = sorted(by_customer)
    chosen = random.Random(seed).sample(customers, len(customers) // 2)
    day = as_of_date - dt.timedelta(days=3)
    planted = [
        by_customer[customer]
        | {
            "Transaction_ID": str(900000 + index),
            "Transaction_Date": f"{day.month}/{day.day}/{day.year}",
            "Quantity": "10",
        }
        for index, customer in enumerate(chosen)
    ]
    with open(sales, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows + planted)
    return destination


def history(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "dbt_pipeline" / "custseg.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


STABLE_AS_OF = dt.date(2019, 12, 8)
SHIFTED_AS_OF = dt.date(2019, 12, 15)


@dataclasses.dataclass(frozen=True)
class Refreshed:
    """A copy of the trained project after one refresh, the refresh's result, and the model
    file published before it."""

    root: Path
    data: Path
    result: RefreshResult
    model_before: bytes


def refreshed_copy(trained: Trained, data: Path, root: Path, as_of_date: dt.date) -> Refreshed:
    root = copy_project_state(trained.root, root)
    model = (root / "ml_pipeline" / "models" / "segment_model.json").read_bytes()
    result = refresh_pipeline(
        resolve_settings(data_dir=data, project_dir=root, as_of_date=as_of_date)
    )
    return Refreshed(root=root, data=data, result=result, model_before=model)


@pytest.fixture(scope="module")
def stable_week(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Refreshed:
    """The same customers a week later, refreshed once (tests may refresh it again: the same
    data publishes nothing, so it stays as the fixture left it)."""
    root = tmp_path_factory.mktemp("stable") / "project"
    return refreshed_copy(trained, trained.data, root, STABLE_AS_OF)


@pytest.fixture(scope="module")
def shifted_period(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Refreshed:
    """The planted shift, refreshed once."""
    base = tmp_path_factory.mktemp("shifted")
    data = plant_shift(trained.data, base / "data", SHIFTED_AS_OF)
    return refreshed_copy(trained, data, base / "project", SHIFTED_AS_OF)


def test_a_stable_week_is_scored_with_the_published_model_and_raises_no_alarm(
    stable_week: Refreshed,
) -> None:
    root, result, model = stable_week.root, stable_week.result, stable_week.model_before
    assert result.action == "scored", result.reasons
    assert result.drift_against_previous is not None
    assert max(result.drift_against_previous.feature_psi.values()) < 0.1
    # The published model is published again byte for byte: its version does not change.
    assert (root / "ml_pipeline" / "models" / "segment_model.json").read_bytes() == model
    runs = history(root, "select as_of_date, model_version, retrained from segment_runs order by 1")
    version = json.loads(model)["integrity"]["sha256"]
    assert runs == [(TRAINED_AS_OF, version, True), (STABLE_AS_OF, version, False)]
    check = drift_pipeline(resolve_settings(project_dir=root))
    assert check.as_of_date == STABLE_AS_OF and check.alarms == []
    cli_run = CliRunner().invoke(cli, ["drift", "--project-dir", str(root), "--json"])
    assert cli_run.exit_code == 0, cli_run.output
    assert json.loads(cli_run.stdout)["alarms"] == []


def test_refreshing_the_same_data_twice_publishes_nothing_the_second_time(
    stable_week: Refreshed,
) -> None:
    root = stable_week.root
    assert stable_week.result.action == "scored"
    query = "select as_of_date, run_id from segment_runs order by 1"
    published = history(root, query)
    files = {
        path.name: path.read_bytes()
        for path in (root / "ml_pipeline" / "models").iterdir()
        if path.is_file()
    }
    settings = resolve_settings(
        data_dir=stable_week.data, project_dir=root, as_of_date=STABLE_AS_OF
    )
    second = refresh_pipeline(settings)
    assert second.action == "unchanged"
    assert second.run is None
    assert history(root, query) == published
    assert {
        path.name: path.read_bytes()
        for path in (root / "ml_pipeline" / "models").iterdir()
        if path.is_file()
    } == files


def test_a_planted_shift_raises_the_alarm_and_the_refresh_retrains(
    shifted_period: Refreshed,
) -> None:
    root, result, as_of = shifted_period.root, shifted_period.result, SHIFTED_AS_OF
    before = json.loads(shifted_period.model_before)
    assert result.drift_against_previous is not None
    assert result.drift_against_previous.feature_psi["recency_days"] > 0.25
    assert any("recency_days" in reason for reason in result.reasons)
    assert result.action in {"retrained", "kept"}
    assert result.published_quality is not None and result.retrained_quality is not None
    _, after = load_model(root / "ml_pipeline" / "models" / "segment_model.json")
    changed = after["integrity"]["sha256"] != before["integrity"]["sha256"]
    assert changed == (result.action == "retrained")
    ((retrained,),) = history(
        root, f"select retrained from segment_runs where as_of_date = date '{as_of}'"
    )
    assert retrained == (result.action == "retrained")
    alarm = CliRunner().invoke(cli, ["drift", "--project-dir", str(root)])
    if result.action == "kept":
        assert alarm.exit_code == DRIFT_EXIT_CODE, alarm.output
        assert "ALARM" in alarm.stdout


def test_the_drift_models_agree_with_custseg_drift(stable_week: Refreshed) -> None:
    """fct_feature_drift and fct_segment_drift (SQL) give the figures `custseg drift` computes."""
    root, day = stable_week.root, STABLE_AS_OF
    check = drift_pipeline(resolve_settings(project_dir=root))
    assert check.against_previous is not None
    in_sql = dict(
        history(
            root,
            "select feature_name, psi from fct_feature_drift "
            f"where as_of_date = date '{day}' and compared_with = 'previous as-of date'",
        )
    )
    assert in_sql == pytest.approx(check.against_previous.feature_psi, abs=1e-12)
    training = dict(
        history(
            root,
            "select feature_name, psi from fct_feature_drift "
            f"where as_of_date = date '{day}' and compared_with = 'training data'",
        )
    )
    assert training == pytest.approx(check.against_training.feature_psi, abs=1e-12)
    shifts = dict(
        history(
            root,
            "select segment_id, share_shift from fct_segment_drift "
            f"where as_of_date = date '{day}'",
        )
    )
    python_shifts = {
        sid: shift
        for sid, shift in check.against_previous.segment_share_shift.items()
        if sid in shifts
    }
    assert shifts == pytest.approx(python_shifts, abs=1e-12)
    ((kept,),) = history(
        root, f"select distinct kept_share from fct_segment_drift where as_of_date = date '{day}'"
    )
    assert kept == pytest.approx(check.against_previous.kept_share, abs=1e-12)


def published_outputs(root: Path) -> dict[str, object]:
    """Every file a publication left in the project, as two runs of the same data agree on it."""
    folders = [root / "ml_pipeline" / "models", root / "dbt_pipeline" / "seeds" / "published"]
    return {
        path.relative_to(root).as_posix(): comparable(path)
        for folder in folders
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def refresh_by_steps(settings: Settings) -> tuple[CandidateModel, object]:
    """The four steps with the refresh policy, as the Dagster schedule runs them."""
    load_step(settings)
    features_step(settings)
    candidate = model_step(settings, policy="refresh")
    return candidate, publish_step(settings)


def test_the_refresh_policy_steps_publish_what_the_refresh_publishes_in_a_stable_week(
    trained: Trained, stable_week: Refreshed, tmp_path: Path
) -> None:
    by_steps = copy_project_state(trained.root, tmp_path / "steps")
    settings = resolve_settings(
        data_dir=trained.data, project_dir=by_steps, as_of_date=STABLE_AS_OF
    )
    candidate, result = refresh_by_steps(settings)
    assert candidate.action == stable_week.result.action == "scored"
    assert list(candidate.reasons) == stable_week.result.reasons
    # The published model's file, published again byte for byte (its version unchanged).
    model = by_steps / "ml_pipeline" / "models" / "segment_model.json"
    assert model.read_bytes() == stable_week.model_before
    assert published_outputs(by_steps) == published_outputs(stable_week.root)
    query = "select as_of_date, model_version, retrained from segment_runs order by 1"
    assert history(by_steps, query) == history(stable_week.root, query)
    assert result is not None and result.run_id == candidate.run_id

    # The same data again: nothing new; the publish step writes nothing, and says so.
    files = {path: path.read_bytes() for path in (by_steps / "ml_pipeline").rglob("*.*")}
    runs = history(by_steps, "select as_of_date, run_id from segment_runs order by 1")
    again, nothing = refresh_by_steps(settings)
    assert again.action == "unchanged" and nothing is None
    assert again.n_segments == 0 and not again.model_path.exists()
    assert "already published" in again.reasons[0]
    assert {path: path.read_bytes() for path in (by_steps / "ml_pipeline").rglob("*.*")} == files
    assert history(by_steps, "select as_of_date, run_id from segment_runs order by 1") == runs
    assert not candidate_files(settings).folder.exists()


def test_the_refresh_policy_steps_retrain_on_a_planted_shift_as_the_refresh_does(
    trained: Trained, shifted_period: Refreshed, tmp_path: Path
) -> None:
    by_steps = copy_project_state(trained.root, tmp_path / "steps")
    candidate, result = refresh_by_steps(
        resolve_settings(
            data_dir=shifted_period.data, project_dir=by_steps, as_of_date=SHIFTED_AS_OF
        )
    )
    refreshed = shifted_period.result
    assert candidate.action == refreshed.action
    assert candidate.action in {"retrained", "kept"}
    assert list(candidate.reasons) == refreshed.reasons
    assert any("recency_days" in reason for reason in candidate.reasons)
    assert published_outputs(by_steps) == published_outputs(shifted_period.root)
    query = "select as_of_date, retrained from segment_runs order by 1"
    assert history(by_steps, query) == history(shifted_period.root, query)
    assert result is not None and result.run_id == candidate.run_id


def test_the_model_step_names_an_unknown_policy(trained: Trained) -> None:
    settings = resolve_settings(project_dir=trained.root)
    with pytest.raises(ConfigError, match="Unknown model policy 'nightly': use one of retrain"):
        model_step(settings, policy="nightly")  # type: ignore[arg-type]
