"""Two runs on one warehouse: the second stops and names the holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custseg.errors import LockError
from custseg.publish.locking import exclusive_run_lock


def test_second_holder_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    lock = tmp_path / "w.duckdb.lock"
    with exclusive_run_lock(lock):
        with pytest.raises(LockError) as caught, exclusive_run_lock(lock):
            pass
        assert f"pid {os.getpid()}" in str(caught.value)
    with exclusive_run_lock(lock):  # released after the block
        pass
