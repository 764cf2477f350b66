"""Every fault has a sentence: storage faults, DuckDB file faults and impossible option values.

Each case runs the real command line (or the one file writer) on a fault the operating system
or DuckDB really raises, and checks the exit code, that the message names the path or option
and what to do, that no traceback escapes, and that nothing was loaded or published. The
PostgreSQL side (bounded lock waits, masked URIs) is in test_lock_waits.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation, run_dbt
from custseg.errors import DbtLockError, StorageError, storage_error_in
from custseg.publish import atomic
from custseg.publish.atomic import write_bytes_atomic
from custseg.settings import OPTIONS, default_of
from tests.support import CLEAN_ENV, write_config, write_input_files

#: Every option whose value is a float: each must refuse NaN and the infinities.
FLOAT_OPTIONS = sorted(name for name in OPTIONS if isinstance(default_of(name), float))
NOT_NUMBERS = ("nan", "inf", "-inf", "1e999")


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env={**CLEAN_ENV, **(env or {})})


def run_args(project: Path, data: Path, *extra: str) -> list[str]:
    return ["run", "--data-dir", str(data), "--project-dir", str(project), *extra]


def assert_nothing_ran(project: Path) -> None:
    """No warehouse file and no published output: the run stopped before loading."""
    assert not (project / "dbt_pipeline" / "custseg.duckdb").exists()
    assert not (project / "ml_pipeline" / "models" / "segment_model.json").exists()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_input_files(tmp_path / "data")


# ------------------------------------------------------------------------ option values


def test_every_float_option_is_checked_here() -> None:
    assert FLOAT_OPTIONS == [
        "drift_kept_share_min",
        "drift_psi_alarm",
        "drift_share_shift_alarm",
        "lock_timeout",
        "max_centroid_shift",
        "min_segment_share",
    ]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("name", FLOAT_OPTIONS)
def test_nan_and_infinities_are_refused_from_every_source(
    name: str, value: str, project_root: Path, data_dir: Path
) -> None:
    option = OPTIONS[name]
    toml_value = {"nan": "nan", "inf": "inf", "-inf": "-inf", "1e999": "1e999"}[value]
    config = write_config(data_dir.parent, f"[run]\n{name} = {toml_value}\n")
    cases = {
        option.flag: run_cli(*run_args(project_root, data_dir, option.flag, value)),
        option.env: run_cli(*run_args(project_root, data_dir), env={option.env: value}),
        f"{name} in [run] of {config.resolve()}": run_cli(
            *run_args(project_root, data_dir, "--config", str(config))
        ),
    }
    for where, result in cases.items():
        assert result.exit_code == 2, (where, result.output)
        assert result.output.startswith(f"Error: {where}: "), result.output
        assert "is not valid; write " in result.output
    assert_nothing_ran(project_root)


@pytest.mark.parametrize("value", ["0", "-1", "0.0001", "1e9", "soon"])
def test_a_lock_timeout_postgresql_cannot_use_is_refused(
    value: str, project_root: Path, data_dir: Path
) -> None:
    result = run_cli(*run_args(project_root, data_dir, "--lock-timeout", value))
    assert result.exit_code == 2, result.output
    assert "--lock-timeout" in result.output and "seconds from 0.001 to 2147483" in result.output


# ------------------------------------------------------------------------ storage faults


def test_a_full_disk_is_a_storage_error_and_the_file_keeps_its_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/dev/full fails every write with ENOSPC, as a full disk does: the one file writer's
    temporary file is opened there."""
    target = tmp_path / "segment_model.json"
    target.write_bytes(b"previous")

    def full_temporary_file(**_: Any) -> tuple[int, str]:
        return os.open("/dev/full", os.O_WRONLY), str(tmp_path / ".segment_model.json.tmp")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full_temporary_file)
    with pytest.raises(StorageError) as raised:
        write_bytes_atomic(target, b"x" * 100_000)
    assert str(raised.value).startswith(f"Cannot write {target}: the disk is full (")
    assert "Free some space on that disk" in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.ENOSPC
    assert target.read_bytes() == b"previous"


@contextlib.contextmanager
def tiny_filesystem(folder: Path, size: str = "512k") -> Iterator[Path]:
    """A real file system of ``size`` at ``folder`` (a tmpfs: needs root and mount rights)."""
    folder.mkdir()
    mount = shutil.which("mount") or shutil.which("mount", path="/usr/bin:/bin")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("a tiny file system needs root to mount a tmpfs")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def test_a_disk_filling_up_while_duckdb_loads_is_a_storage_error_not_bad_input(
    project_root: Path, tmp_path: Path
) -> None:
    """DuckDB's own write fails with ENOSPC; the input reader would blame the input file."""
    from custseg.sample import generate_sample_data

    data = tmp_path / "sample"
    generate_sample_data(data, n_customers=300, seed=3)
    with tiny_filesystem(tmp_path / "full") as full:
        database = full / "w.duckdb"
        result = run_cli(*run_args(project_root, data, "--duckdb-path", str(database)))
    assert result.exit_code == 7, result.output
    assert f"Error: Cannot write {database}" in result.output
    assert ": the disk is full (No space left on device). Free some space" in result.output
    assert "cannot be loaded" not in result.output


def test_a_full_disk_under_dbts_target_folder_is_a_storage_error(
    project_root: Path, data_dir: Path
) -> None:
    """The empty file of the check before the run still fits; dbt's manifest does not."""
    target = project_root / "dbt_pipeline" / "target"
    with tiny_filesystem(target, size="64k"):
        result = run_cli(*run_args(project_root, data_dir))
    assert result.exit_code == 7, result.output
    assert "Error: dbt build failed.\n  OSError: [Errno 28] No space left on device" in (
        result.output
    )
    assert f"Cannot write a file dbt writes in {target} or" in result.output
    assert "the disk is full (No space left on device). Free some space" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'Failed to commit: Could not write file "/w/c.duckdb.wal": No space left on device',
            "Cannot write /w/c.duckdb.wal: the disk is full",
        ),
        (
            "[Errno 28] No space left on device: '/p/target/manifest.json'",
            "Cannot write /p/target/manifest.json: the disk is full",
        ),
        (
            'IO Error: Cannot open file "/w/c.duckdb": Permission denied',
            "Cannot open /w/c.duckdb: permission denied",
        ),
        # A value quoted from the data, and a privilege the database refused, are not storage.
        ("Online_Sales.csv line 6: 'Permission denied' is not a coupon status", None),
        ("permission denied for schema raw", None),
    ],
)
def test_engines_words_for_a_storage_fault_are_read_only_next_to_a_path(
    text: str, expected: str | None
) -> None:
    error = storage_error_in(text)
    assert (str(error).split(" (")[0] if error else None) == expected


def test_writing_under_a_file_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="a part of the path is a file where a folder is"):
        write_bytes_atomic(blocker / "deeper" / "segment_model.json", b"{}")


@pytest.mark.parametrize(
    "blocked",
    ["dbt_pipeline/seeds/published", "ml_pipeline/models", "ml_pipeline", "dbt_pipeline/target"],
)
def test_a_file_where_a_run_writes_a_folder_stops_it_before_loading(
    blocked: str, project_root: Path, data_dir: Path
) -> None:
    path = project_root / blocked
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a file where custseg needs a folder")
    result = run_cli(*run_args(project_root, data_dir))
    assert result.exit_code == 7, result.output
    assert f"{path} is a file where custseg needs a folder" in result.output
    assert "Nothing was loaded or published." in result.output
    assert "Traceback" not in result.output
    assert_nothing_ran(project_root)


def test_a_folder_where_a_run_writes_a_file_stops_it_before_loading(
    project_root: Path, data_dir: Path
) -> None:
    path = project_root / "ml_pipeline" / "models" / "segment_model.json"
    path.mkdir(parents=True)
    result = run_cli(*run_args(project_root, data_dir))
    assert result.exit_code == 7, result.output
    assert f"Cannot write {path}: it is a folder where custseg writes a file" in result.output
    assert not (project_root / "dbt_pipeline" / "custseg.duckdb").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
@pytest.mark.parametrize("folder", ["dbt_pipeline/seeds/published", "ml_pipeline/models"])
def test_a_read_only_folder_stops_the_run_before_loading(
    folder: str, project_root: Path, data_dir: Path
) -> None:
    path = project_root / folder
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    try:
        result = run_cli(*run_args(project_root, data_dir))
    finally:
        path.chmod(0o755)
    assert result.exit_code == 7, result.output
    assert f"Cannot write {path}: permission denied" in result.output
    assert "Make it writable" in result.output
    assert_nothing_ran(project_root)


def _immutable(path: Path, on: bool) -> bool:
    """Set or clear the immutable attribute (even root cannot replace such a file)."""
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    done = subprocess.run([chattr, "+i" if on else "-i", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.mark.parametrize(
    "name",
    [
        "dbt_pipeline/seeds/published/segment_definitions.csv",
        "ml_pipeline/models/segment_model.json",
    ],
)
def test_a_file_nobody_may_replace_stops_the_run_before_loading(
    name: str, project_root: Path, data_dir: Path
) -> None:
    """A read-only file is replaced all the same (an atomic rename needs the folder, not the
    file); only an immutable one refuses, even root."""
    path = project_root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("{}")
    before = path.read_bytes()
    if not _immutable(path, True):
        pytest.skip("chattr +i is not available here (needs root and a file system with it)")
    try:
        result = run_cli(*run_args(project_root, data_dir))
    finally:
        _immutable(path, False)
    assert result.exit_code == 7, result.output
    assert f"Cannot write {path}: it is marked immutable or append-only" in result.output
    assert "Clear the mark (chattr -i -a)" in result.output
    assert path.read_bytes() == before
    assert not (project_root / "dbt_pipeline" / "custseg.duckdb").exists()


def test_an_immutable_file_met_while_writing_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "segment_model.json"
    path.write_text("previous")
    if not _immutable(path, True):
        pytest.skip("chattr +i is not available here (needs root and a file system with it)")
    try:
        with pytest.raises(StorageError) as raised:
            write_bytes_atomic(path, b"new")
    finally:
        _immutable(path, False)
    assert str(raised.value).startswith(f"Cannot write {path}: the operation is not permitted")
    assert path.read_text() == "previous"


def test_an_os_error_the_library_did_not_name_still_gets_a_sentence(
    project_root: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custseg.pipeline

    def fail(*_: Any, **__: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/file.csv")

    monkeypatch.setattr(custseg.pipeline, "run_pipeline", fail)
    result = run_cli(*run_args(project_root, data_dir))
    assert result.exit_code == 7, result.output
    assert "Error: Cannot write /somewhere/file.csv: permission denied" in result.output

    def other(*_: Any, **__: Any) -> None:
        raise ConnectionResetError(errno.ECONNRESET, "reset")

    monkeypatch.setattr(custseg.pipeline, "run_pipeline", other)
    result = run_cli(*run_args(project_root, data_dir))
    assert isinstance(result.exception, ConnectionResetError)  # a bug keeps its traceback


# ------------------------------------------------------------------------ DuckDB file faults


HOLDER = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "


@contextlib.contextmanager
def held_open(database: Path) -> Iterator[int]:
    """Another process holding the DuckDB file open (as a DuckDB CLI or DBeaver does)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER + "time.sleep(120)", str(database)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_dbt_finding_the_duckdb_file_held_open_is_a_lock_error(
    project_root: Path, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    invocation = DbtInvocation(
        project_dir=project_root / "dbt_pipeline",
        env={"CUSTSEG_TARGET": "duckdb", "CUSTSEG_DUCKDB_PATH": str(database)},
    )
    with held_open(database), pytest.raises(DbtLockError) as raised:
        run_dbt(invocation, "run", "--select", "stg_marketing_insights__customers")
    assert raised.value.exit_code == 6
    assert "Another process has the DuckDB file open" in str(raised.value)
    assert "Inspect a failing test" not in str(raised.value)


def test_a_duckdb_file_another_process_holds_open_names_it_and_its_pid(
    project_root: Path, data_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    with held_open(database) as pid:
        result = run_cli(*run_args(project_root, data_dir, "--duckdb-path", str(database)))
    assert result.exit_code == 6, result.output
    assert f"{database}: another process has this DuckDB file open (pid {pid}," in result.output
    assert "Close that session" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"CustomerID,Gender\n1,M\n", "customers.csv"), (os.urandom(5000), "x.duckdb"), (b"", "e")],
)
def test_a_duckdb_path_that_is_not_a_duckdb_file_is_refused_untouched(
    content: bytes, name: str, project_root: Path, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli(*run_args(project_root, data_dir, "--duckdb-path", str(path)))
    assert result.exit_code == 2, result.output
    assert f"Error: --duckdb-path: {path} exists but is not a DuckDB database file" in (
        result.output
    )
    assert "point --duckdb-path at a DuckDB file" in result.output
    assert path.read_bytes() == content


@pytest.mark.parametrize("name", ["it's.duckdb", 'say"hi".duckdb'])
def test_a_quote_in_the_duckdb_file_name_is_refused_before_anything_runs(
    name: str, project_root: Path, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / name
    result = run_cli(*run_args(project_root, data_dir), env={"CUSTSEG_DUCKDB_PATH": str(path)})
    assert result.exit_code == 2, result.output
    assert f"Error: CUSTSEG_DUCKDB_PATH: the file name {name!r} holds" in result.output
    assert "Rename the file without quotes (its folder may hold them)" in result.output
    assert not path.exists()
    assert_nothing_ran(project_root)


def test_a_quote_in_the_duckdb_files_folder_works_end_to_end(
    project_root: Path, tmp_path: Path
) -> None:
    """Only the file name reaches dbt's SQL (as the database name); the folder travels as a
    path through env_var() and DuckDB's own quoting."""
    from custseg.sample import generate_sample_data

    data = tmp_path / "sample"
    generate_sample_data(data, n_customers=300, seed=3)
    folder = tmp_path / 'it\'s "quoted"'
    folder.mkdir()
    result = run_cli(*run_args(project_root, data, "--duckdb-path", str(folder / "w.duckdb")))
    assert result.exit_code == 0, result.output
    assert f"Warehouse:        DuckDB file {folder / 'w.duckdb'}" in result.output


def test_a_missing_duckdb_file_or_folder_gets_a_sentence(
    project_root: Path, data_dir: Path, tmp_path: Path
) -> None:
    """`run` creates a missing folder (custseg.example.toml relies on it) unless it cannot;
    `evaluate` on the warehouse's features needs the file a run built."""
    path = tmp_path / "no" / "such" / "w.duckdb"
    result = run_cli("evaluate", "--project-dir", str(project_root), "--duckdb-path", str(path))
    assert result.exit_code == 2, result.output
    assert f"Error: No DuckDB warehouse at {path}: pass --data-dir" in result.output
    assert not (tmp_path / "no").exists()

    (tmp_path / "no").write_text("a file where the DuckDB file's folder would go")
    result = run_cli(*run_args(project_root, data_dir, "--duckdb-path", str(path)))
    assert result.exit_code == 7, result.output
    assert f"Cannot write {path.parent}: {tmp_path / 'no'} is a file where" in result.output
