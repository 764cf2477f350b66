"""Which dataset a run reads and its run id (custseg.run_identity)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from custseg.errors import ConfigError
from custseg.ingest.mapping import InputSpec
from custseg.run_identity import default_dataset, new_run_id, run_identity
from custseg.settings import resolve_settings
from tests.support import RUN_ID_PATTERN, copy_project


def test_the_default_dataset_follows_the_folder_and_mapping_not_the_content(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    data = root / "exports" / "Shop EU (2024)"
    data.mkdir(parents=True)
    name = default_dataset(data, (), root)
    assert name.startswith("Shop-EU-2024-") and len(name) == len("Shop-EU-2024-") + 8
    # The usual mapping written out is the usual mapping; a refresh changes nothing.
    (data / "CustomersData.csv").write_text("refreshed")
    assert default_dataset(data, (InputSpec("customers"),), root) == name
    # Another mapping of the same folder, or another folder, is another dataset.
    assert default_dataset(data, (InputSpec("sales", file="orders.csv"),), root) != name
    other = root / "exports" / "Shop EU"
    other.mkdir()
    assert default_dataset(other, (), root) != name
    # Inside the project the location is relative: a moved or cloned project keeps it.
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    assert default_dataset(moved / "exports" / "Shop EU (2024)", (), moved) == name


def test_a_named_dataset_wins_and_run_ids_are_unique(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    data = tmp_path / "data"
    data.mkdir()
    named = run_identity(resolve_settings(data_dir=data, project_dir=root, dataset="shop-eu"))
    derived = run_identity(resolve_settings(data_dir=data, project_dir=root))
    assert named.dataset == "shop-eu"
    assert derived.dataset == default_dataset(data, (), root)
    assert run_identity(resolve_settings(project_dir=root), fallback="old").dataset == "old"
    assert run_identity(resolve_settings(project_dir=root)).dataset == "unknown"
    assert RUN_ID_PATTERN.fullmatch(named.run_id) and named.run_id != derived.run_id
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert new_run_id(at).startswith("20260102T030405Z-")


@pytest.mark.parametrize("value", ["", "-shop", "shop eu", "a/b", "x" * 65])
def test_a_dataset_name_that_is_not_one_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^dataset: .* is not valid; write a name of 1 to 64"):
        resolve_settings(dataset=value)
