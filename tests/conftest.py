"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import copy_project


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    """A throwaway project root holding a copy of dbt_pipeline/."""
    return copy_project(tmp_path / "project")
