"""The Python API: ``custseg.run``, ``build_features``, ``segment``, ``load_model``.

Exact on hand-built customers; a run through the API is compared with the command line's
``--json`` and with ``segment`` on the features that run built (same assignments, same model
file, byte for byte).
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

import custseg
from custseg.cli import cli
from custseg.errors import ConfigError, InputDataError, InsufficientDataError, ModelIntegrityError
from custseg.model.features import FEATURES
from custseg.settings import OPTIONS
from tests.support import (
    CLEAN_ENV,
    HAND_BUILT_FEATURES,
    HAND_BUILT_SEGMENTS,
    REPO_ROOT,
    comparable,
    copy_project,
    resealed_model,
    write_config,
)

IDS = [f"c{i:02d}" for i in range(len(HAND_BUILT_FEATURES))]


def hand_built(**overrides: list[Any]) -> dict[str, list[Any]]:
    """The hand-built customers as a mapping of column name to values."""
    columns: dict[str, list[Any]] = {"customer_id": list(IDS)}
    columns |= {name: HAND_BUILT_FEATURES[:, j].tolist() for j, name in enumerate(FEATURES)}
    return columns | overrides


def test_import_custseg_loads_no_library_and_names_the_api() -> None:
    code = (
        "import sys, custseg\n"
        "assert issubclass(custseg.errors.ConfigError, custseg.errors.CustsegError)\n"
        "heavy = {'numpy', 'pyarrow', 'sklearn', 'dbt', 'duckdb', 'custseg.api'}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
    import custseg.api

    for name in set(custseg.__all__) - {"__version__", "errors"}:
        assert getattr(custseg, name) is getattr(custseg.api, name), name
    assert set(custseg.api.__all__) == set(custseg.__all__) - {"__version__", "errors"}
    assert {"run", "segment", "load_model"} <= set(dir(custseg))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = custseg.nope  # type: ignore[attr-defined]


def test_the_package_ships_its_type_hints() -> None:
    assert (REPO_ROOT / "src" / "custseg" / "py.typed").is_file()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"custseg" = ["py.typed"]' in pyproject


def test_segment_names_the_hand_built_customers_in_the_input_order() -> None:
    result = custseg.segment(hand_built(), k=5)

    assert result.assignments.schema == pa.schema(
        [("customer_id", pa.string()), ("segment_id", pa.int64()), ("segment_name", pa.string())]
    )
    assert result.assignments.column("customer_id").to_pylist() == IDS
    assert result.assignments.column("segment_id").to_pylist() == HAND_BUILT_SEGMENTS.tolist()
    assert result.assignments.to_pylist()[0] == {
        "customer_id": "c00",
        "segment_id": 3,
        "segment_name": "Champions (VIPs)",
    }
    big = result.segments[0]
    assert (big["segment_name"], big["customers"], big["mean"]["recency_days"]) == (
        "Big Spenders",
        3,
        60.0,
    )
    assert [s["customers"] for s in result.segments] == [3, 3, 3, 4, 4]
    assert all(check["passed"] for check in result.name_checks)
    assert result.model_document["metadata"]["as_of_date"] is None
    assert result.model_document["metadata"]["n_customers"] == 17
    json.dumps(result.to_dict(), allow_nan=False)  # plain JSON types only
    assert result.predict(hand_built()).equals(result.assignments)


def test_segment_fits_in_customer_id_order_whatever_the_row_order() -> None:
    """Rows are sorted by id before fitting, as a run reads them: the same model either way."""
    reference = custseg.segment(hand_built())
    reversed_rows = {name: values[::-1] for name, values in hand_built().items()}
    result = custseg.segment(reversed_rows)
    assert result.model.to_json() == reference.model.to_json()
    assert result.assignments.column("customer_id").to_pylist() == IDS[::-1]
    assert result.assignments.column("segment_id").to_pylist() == HAND_BUILT_SEGMENTS.tolist()[::-1]


class ArrowStream:
    """An object offering only the Arrow PyCapsule stream interface, as polars and pandas do."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


def test_segment_reads_integer_ids_extra_columns_and_arrow_streams() -> None:
    table = pa.table(hand_built(customer_id=list(range(17)), note=["x"] * 17))
    result = custseg.segment(ArrowStream(table), k=5)
    assert result.assignments.column("customer_id").to_pylist() == [str(i) for i in range(17)]
    assert result.assignments.column("segment_id").to_pylist() == HAND_BUILT_SEGMENTS.tolist()


@pytest.mark.parametrize(
    ("features", "error", "message"),
    [
        (
            {"customer_id": ["a"], "recency_days": [1]},
            InputDataError,
            "features has no column count_orders, lifetime_revenue, avg_order_value (it has "
            "customer_id, recency_days)",
        ),
        (
            hand_built(customer_id=[float(i) for i in range(17)]),
            InputDataError,
            "column customer_id is of type double; give customer ids as text or whole numbers",
        ),
        (
            hand_built(customer_id=[None, *IDS[1:]]),
            InputDataError,
            "column customer_id is empty in 1 row(s) (rows 0)",
        ),
        (
            hand_built(customer_id=["a", "b", "a", *IDS[3:]]),
            InputDataError,
            "1 customer id(s) appear in more than one row (customer_id a)",
        ),
        (
            hand_built(count_orders=["40"] * 17),
            InputDataError,
            "column count_orders is of type string; it must hold numbers",
        ),
        (
            hand_built(count_orders=[None, None, *HAND_BUILT_FEATURES[2:, 1].tolist()]),
            InputDataError,
            "column count_orders is null for 2 customer(s) (customer_id c00, c01)",
        ),
        (
            hand_built(avg_order_value=[float("nan"), *HAND_BUILT_FEATURES[1:, 3].tolist()]),
            InputDataError,
            "column avg_order_value is NaN or infinite for 1 customer(s) (customer_id c00)",
        ),
        (
            hand_built(lifetime_revenue=[*HAND_BUILT_FEATURES[:16, 2].tolist(), float("inf")]),
            InputDataError,
            "column lifetime_revenue is NaN or infinite for 1 customer(s) (customer_id c16)",
        ),
        (
            hand_built(recency_days=[-1, *HAND_BUILT_FEATURES[1:, 0].tolist()]),
            InputDataError,
            "column recency_days is negative for 1 customer(s) (customer_id c00)",
        ),
        (
            hand_built(as_of_date=[dt.date(2020, 1, 1)] * 16 + [dt.date(2020, 1, 2)]),
            InputDataError,
            "column as_of_date must hold one date for every customer",
        ),
        (
            {name: [] for name in ("customer_id", *FEATURES)},
            InsufficientDataError,
            "features has no rows",
        ),
        (42, InputDataError, "features must be a table"),
    ],
    ids=[
        "missing-columns",
        "float-ids",
        "null-id",
        "duplicate-id",
        "text-feature",
        "null-feature",
        "nan",
        "infinite",
        "negative",
        "two-as-of-dates",
        "no-rows",
        "not-a-table",
    ],
)
def test_segment_names_the_column_and_the_customers_of_bad_input(
    features: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        custseg.segment(features)
    assert message in str(raised.value)


def test_segment_checks_settings_as_a_run_does() -> None:
    with pytest.raises(ConfigError, match=r"argument k: 11 is not valid; write a whole number"):
        custseg.segment(hand_built(), k=11)
    with pytest.raises(ConfigError, match=r"argument random_state: -1 is not valid"):
        custseg.segment(hand_built(), random_state=-1)


def test_a_saved_model_loads_and_scores_like_the_fitted_one(tmp_path: Path) -> None:
    result = custseg.segment(hand_built())
    path = result.model.save(tmp_path / "model.json")
    model = custseg.load_model(path)
    assert model.document == result.model_document
    assert model.predict(hand_built()).equals(result.assignments)
    assert model.segment_names == {0: "Big Spenders", 1: "At-Risk (Lapsing)"} | {
        2: "Occasional Shoppers",
        3: "Champions (VIPs)",
        4: "Loyal Customers",
    }
    path.write_text(path.read_text().replace('"n_customers": 17', '"n_customers": 18'))
    with pytest.raises(ModelIntegrityError, match="failed its integrity check"):
        custseg.load_model(path)


def test_run_returns_what_the_command_line_prints_and_segment_refits_it_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "sample"
    assert custseg.generate_sample(data_dir, customers=400).n_customers == 400
    root = copy_project(tmp_path / "project")
    duckdb_path = tmp_path / "w.duckdb"
    steps: list[str] = []

    result = custseg.run(
        data_dir,
        project_dir=root,
        duckdb_path=duckdb_path,
        as_of_date="2019-12-01",
        progress=steps.append,
    )

    assert isinstance(result, custseg.RunResult)
    assert result.as_of_date == dt.date(2019, 12, 1)
    # Only purchases before the as-of date count, so customers who first bought in December are
    # left out: counted here from the file.
    n_customers = customers_buying_before(data_dir, month=12, day=1)
    assert result.n_customers == n_customers < 400
    assert sum(s.customers for s in result.segments) == n_customers
    assert f"Clustering {n_customers} customers into 5 segments" in steps
    model_file = result.model_path.read_bytes()
    # The run is over, so the warehouse file is free for other processes (a SQL client, dbt on
    # the command line), although this process keeps running: dbt-duckdb's connection is closed.
    opened = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"]
        + [str(duckdb_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert opened.returncode == 0, opened.stderr
    with open(result.segments_path, newline="") as handle:
        published = [(row["customer_id"], int(row["segment_id"])) for row in csv.DictReader(handle)]

    # The same features, read back from the run's warehouse and segmented in memory: the same
    # assignments and the same model, but for the run's identity, which a model fitted in
    # memory leaves empty.
    features = custseg.build_features(project_dir=root, duckdb_path=duckdb_path)
    assert features.num_rows == n_customers
    assert features.column("as_of_date").unique().to_pylist() == [dt.date(2019, 12, 1)]
    refit = custseg.segment(features)
    in_memory = json.loads(refit.model.to_json())
    assert (in_memory["metadata"]["run_id"], in_memory["metadata"]["dataset"]) == (None, None)
    by_the_run = json.loads(model_file)
    by_the_run["metadata"] |= {"run_id": None, "dataset": None}
    assert resealed_model(by_the_run) == in_memory
    assert sorted(
        zip(
            refit.assignments.column("customer_id").to_pylist(),
            refit.assignments.column("segment_id").to_pylist(),
            strict=True,
        )
    ) == sorted(published)

    # The command line on the same project, with no published model to keep ids from (as the
    # API's run had none): the same result but the seconds, and the same model file.
    result.model_path.unlink()
    cli_run = CliRunner().invoke(
        cli,
        ["run", "--data-dir", str(data_dir), "--project-dir", str(root)]
        + ["--duckdb-path", str(duckdb_path), "--as-of-date", "2019-12-01", "--json"],
    )
    assert cli_run.exit_code == 0, cli_run.output
    assert cli_run.stderr == "", "--json prints no progress"
    printed = json.loads(cli_run.stdout)
    assert printed["duckdb_path"] == str(duckdb_path)
    ours = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert printed.pop("stage_seconds").keys() == ours.pop("stage_seconds").keys()
    assert printed.pop("run_id") != ours.pop("run_id")
    assert ours == printed
    with open(tmp_path / "first_model.json", "wb") as handle:
        handle.write(model_file)
    assert comparable(result.model_path) == comparable(tmp_path / "first_model.json")


def customers_buying_before(data_dir: Path, *, month: int, day: int) -> int:
    """Customers of ``Online_Sales.csv`` with a purchase before ``month/day`` of 2019."""
    with open(data_dir / "Online_Sales.csv", newline="") as handle:
        return len(
            {
                row["CustomerID"]
                for row in csv.DictReader(handle)
                if tuple(map(int, row["Transaction_Date"].split("/")[:2])) < (month, day)
            }
        )


def test_run_takes_every_setting_as_a_keyword_argument() -> None:
    """A setting added to custseg.settings.OPTIONS must reach the API's run as well."""
    parameters = inspect.signature(custseg.run).parameters
    assert set(OPTIONS) | {"config", "progress"} == set(parameters)
    assert all(parameters[name].default is None for name in OPTIONS)


def test_run_errors_name_the_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError, match=f"argument data_dir: no such folder {missing}"):
        custseg.run(missing, project_dir=REPO_ROOT)
    with pytest.raises(ConfigError, match="argument as_of_date: '1/1/2020' is not valid"):
        custseg.run(tmp_path, project_dir=REPO_ROOT, as_of_date="1/1/2020")


def test_run_reads_the_config_file_given_or_in_custseg_config_and_arguments_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen through which source a refused folder is named (no run starts)."""
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path, '[run]\ndata_dir = "from-config"\n')
    from_config = f"data_dir in \\[run\\] of {config}: no such folder {tmp_path / 'from-config'}"
    with pytest.raises(ConfigError, match=from_config):
        custseg.run(config=config, project_dir=REPO_ROOT)
    monkeypatch.setenv("CUSTSEG_CONFIG", str(config))
    with pytest.raises(ConfigError, match=from_config):
        custseg.run(project_dir=REPO_ROOT)
    monkeypatch.setenv("CUSTSEG_DATA_DIR", str(tmp_path / "from-env"))
    with pytest.raises(ConfigError, match="CUSTSEG_DATA_DIR: no such folder"):
        custseg.run(project_dir=REPO_ROOT)
    with pytest.raises(ConfigError, match="argument data_dir: no such folder"):
        custseg.run(tmp_path / "from-argument", project_dir=REPO_ROOT)


def test_features_table_types_match_dbt() -> None:
    """build_features' table: whole numbers stay int64, amounts float64 (no run needed)."""
    from custseg.api.tables import features_table

    matrix = np.array([[3.0, 2.0, 30.5, 15.25]])
    table = features_table(["0017"], matrix, dt.date(2020, 1, 1))
    assert table.to_pylist() == [
        {
            "customer_id": "0017",
            "recency_days": 3,
            "count_orders": 2,
            "lifetime_revenue": 30.5,
            "avg_order_value": 15.25,
            "as_of_date": dt.date(2020, 1, 1),
        }
    ]
    assert table.schema.field("count_orders").type == pa.int64()
