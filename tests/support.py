"""Helpers shared by the tests: isolated project copies and the real dataset."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from custseg.dbt.runner import (
    DbtInvocation,
    DbtNodeResult,
    broken_column_rules,
    invoke_dbt_runner,
    run_dbt,
)
from custseg.features import CustomerFeatures
from custseg.history import HISTORY_TABLES, RunRecord, history_env
from custseg.ingest.layout import LoadedTable
from custseg.ingest.mapping import InputSpec
from custseg.model.model_file import canonical_json
from custseg.scaffold import is_run_output
from custseg.settings import DBT_PROFILES_DIR_ENV, OPTIONS, Settings
from custseg.warehouses.duckdb_warehouse import DuckDBWarehouse
from tests.machine import not_installed

if TYPE_CHECKING:
    from custseg.pipeline import RunResult

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "marketing_insights"
# What a fresh clone does not hold: dbt's work folders, warehouses and the published seeds
# (seeds/published/, git-ignored), which custseg recreates header-only where dbt needs them.
_IGNORED = shutil.ignore_patterns(
    "target", "logs", "dbt_packages", "*.duckdb*", ".user.yml", "published"
)
#: What a successful `custseg run` publishes, relative to the project root.
PUBLISHED_FILES = (
    "ml_pipeline/models/customer_segments.csv",
    "ml_pipeline/models/segment_model.json",
    "ml_pipeline/models/evaluation_metrics.json",
    "dbt_pipeline/seeds/published/customer_segments.csv",
    "dbt_pipeline/seeds/published/segment_definitions.csv",
    "dbt_pipeline/seeds/published/segment_model_parameters.csv",
)
#: RunResult fields (and --json keys) of the published files every engine must write alike
#: (the report included: a report the run could not draw would be None here).
PUBLISHED_PATH_KEYS = ("segments_path", "model_path", "metrics_path", "seed_path", "report_path")
#: The environment a user's shell might carry must not redirect a test's runs.
CLEAN_ENV = {option.env: None for option in OPTIONS.values()} | {
    "CUSTSEG_CONFIG": None,
    DBT_PROFILES_DIR_ENV: None,
}


def tracked_files(*folders: str) -> list[str]:
    """The files git tracks in ``folders`` of the repository, and the new ones it does not
    ignore (a change not committed yet is tested too)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *folders],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    return sorted({path for path in listed if path and (REPO_ROOT / path).is_file()})


def shipped_dbt_files() -> dict[str, bytes]:
    """The files of dbt_pipeline/ a project ships (what runs produce left out), with their bytes."""
    return {
        path: (REPO_ROOT / path).read_bytes()
        for path in tracked_files("dbt_pipeline")
        if not is_run_output(PurePosixPath(path).relative_to("dbt_pipeline"))
    }


def copy_project(destination: Path) -> Path:
    """Copy the dbt project into ``destination`` (a fresh project root) and return that root.

    Every run writes the seeds, target/ and the warehouse inside the project, so tests work on a
    copy and never touch the repository. The copy is what a fresh clone holds: no published
    seeds, even where a run in the repository published some.
    """
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO_ROOT / "dbt_pipeline", destination / "dbt_pipeline", ignore=_IGNORED)
    return destination


def copy_project_state(project: Path, destination: Path) -> Path:
    """Copy a project root after a run, with its warehouse, seeds, outputs and dbt's target/
    (the state a user has), so that tests can share one run and each go on from a copy."""
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns("*.lock", "logs"))
    return destination


def real_data_dir() -> Path:
    """The real dataset; fails in CI (where ../shared must exist), skips elsewhere."""
    if (REAL_DATA_DIR / "Online_Sales.csv").is_file():
        return REAL_DATA_DIR
    message = (
        f"real dataset not found at {REAL_DATA_DIR}: put the shared/ folder beside the "
        "project to run the end-to-end tests on real data"
    )
    not_installed(message)


def duckdb_rows(run: RunResult, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in the DuckDB warehouse of a run."""
    assert run.duckdb_path is not None
    with duckdb.connect(str(run.duckdb_path)) as con:
        return con.execute(sql).fetchall()


#: A run id as custseg.run_identity.new_run_id writes it.
RUN_ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def comparable(path: Path, *, same_dataset: bool = True) -> bytes | dict[str, Any] | str:
    """A published file as two runs of the same input and settings must agree on it.

    Seeds and the segments CSV: their bytes. The model, metrics and k selection: their JSON
    without the ``run_id`` (unique per run) and the model's checksum, which covers it, and
    without the ``dataset`` unless ``same_dataset``. The report: its text with the run id and
    the model checksum of the model beside it replaced. Each run-id field must be there.
    """
    if path.suffix == ".csv":
        return path.read_bytes()
    if path.suffix == ".html":
        model = json.loads((path.parent / "segment_model.json").read_text(encoding="utf-8"))
        text = path.read_text(encoding="utf-8")
        assert RUN_ID_PATTERN.search(text), f"{path.name} names no run id"
        text = text.replace(model["integrity"]["sha256"], "<model sha256>")
        return RUN_ID_PATTERN.sub("<run id>", text)
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("integrity", None)
    for fields in (document, document.get("metadata", {})):
        if "dataset" in fields or "run_id" in fields:
            assert RUN_ID_PATTERN.fullmatch(fields.pop("run_id")), f"{path.name}: no run id"
            if not same_dataset:
                fields.pop("dataset")
    return document


def resealed_model(document: dict[str, Any]) -> dict[str, Any]:
    """A model document with a correct integrity hash, as the file format describes it.

    ``integrity.sha256`` is the SHA-256 of the canonical JSON of the document without its
    ``integrity`` key (:mod:`custseg.model.model_file`). Tests edit a model and reseal it to
    reach the checks behind the integrity check, as another custseg version would write it.
    """
    body = {key: value for key, value in document.items() if key != "integrity"}
    digest = hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    return {**body, "integrity": {"sha256": digest}}


def load_into_duckdb(
    database: Path,
    data_dir: Path,
    inputs: Sequence[InputSpec] = (),
    *,
    strict_amounts: bool = False,
) -> list[LoadedTable]:
    """Load ``data_dir`` into the raw tables of the DuckDB file ``database``, as a run does."""
    settings = Settings(duckdb_path=database, strict_amounts=strict_amounts)
    return DuckDBWarehouse(settings).load_raw(
        data_dir, inputs, strict_amounts=settings.strict_amounts
    )


#: Two customers in the usual layout of the five inputs: the smallest data every stage accepts.
INPUT_FILES = {
    "CustomersData.csv": (
        "CustomerID,Gender,Location,Tenure_Months\n0017,M,Chicago,12\nA-2,F,California,3\n"
    ),
    "Online_Sales.csv": (
        "CustomerID,Transaction_ID,Transaction_Date,Product_SKU,Product_Description,"
        "Product_Category,Quantity,Avg_Price,Delivery_Charges,Coupon_Status\n"
        '0017,1,1/5/2019,SKU1,"Bag, large",Apparel,2,10.5,6.5,Used\n'
        "A-2,1,12/31/2019,SKU2,Pen,Office,1,3,0,Clicked\n"
    ),
    "Discount_Coupon.csv": (
        "Month,Product_Category ,Coupon_Code,Discount_pct\nJan,Apparel,SALE10,10\n"
    ),
    "Tax_amount.csv": "Product_Category,GST\nApparel,0.18\nOffice,0.1\n",
    "Marketing_Spend.csv": "Date,Offline_Spend,Online_Spend\n1/1/2019,4500,2424.5\n",
}


def write_input_files(folder: Path, **overrides: str) -> Path:
    """:data:`INPUT_FILES` in ``folder``, with some files replaced by ``overrides``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**INPUT_FILES, **overrides}.items():
        (folder / name).write_text(text)
    return folder


# ------------------------------------------------------------------ hand-built customers

# (recency_days, count_orders, lifetime_revenue, avg_order_value, expected segment id)
HAND_BUILT = [
    # Champions (VIPs): recent, many orders, top revenue
    (5, 40, 8000, 200, 3),
    (3, 45, 9000, 200, 3),
    (7, 38, 7600, 200, 3),
    (4, 42, 8400, 200, 3),
    # Loyal Customers: recent, frequent, small baskets
    (10, 20, 600, 30, 4),
    (12, 22, 660, 30, 4),
    (8, 18, 540, 30, 4),
    (15, 21, 630, 30, 4),
    # Big Spenders: rare, huge baskets
    (60, 2, 3000, 1500, 0),
    (70, 3, 4500, 1500, 0),
    (50, 2, 2800, 1400, 0),
    # At-Risk (Lapsing): silent for long, used to buy
    (300, 15, 1500, 100, 1),
    (320, 12, 1200, 100, 1),
    (280, 14, 1400, 100, 1),
    # Occasional Shoppers: one or two small orders
    (150, 1, 20, 20, 2),
    (170, 1, 25, 25, 2),
    (160, 2, 40, 20, 2),
]
#: The hand-built customers' features and the segment id each must get.
HAND_BUILT_FEATURES = np.array([row[:4] for row in HAND_BUILT], dtype=np.float64)
HAND_BUILT_SEGMENTS = np.array([row[4] for row in HAND_BUILT])


# Five hand-made groups of customers: recency_days, count_orders, average order value.
FIVE_GROUPS = {
    "champions": (5, 40, 200),
    "loyal": (20, 12, 100),
    "big": (90, 3, 2000),
    "at_risk": (250, 10, 150),
    "occasional": (150, 1, 40),
}


def five_groups(shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """150 customers in five well separated groups of 30 (champions, loyal, big spenders,
    at risk, occasional), with 5% noise; ``shift`` raises every order value."""
    rng = np.random.default_rng(seed)
    rows = []
    for recency, orders, aov in FIVE_GROUPS.values():
        for _ in range(30):
            noise = rng.normal(1.0, 0.05)
            o = max(1.0, round(orders * noise))
            a = aov * rng.normal(1.0, 0.05) * (1 + shift)
            rows.append((recency * noise + 1, o, o * a, a))
    return np.array(rows, dtype=np.float64)


@dataclass(frozen=True)
class PlantedSample:
    """Generated customers with known archetypes, and their features as the dbt models built."""

    data_dir: Path
    features: CustomerFeatures
    # The planted archetype (a segment name) of every customer, in the order of the features.
    archetypes: list[str]


#: The dataset name of the session's published sample run (conftest ``published_sample``): a
#: test that goes on from it with a copy of its data in another folder names the same dataset,
#: so the run is compared with the published model as a refresh of that data is.
PUBLISHED_SAMPLE_DATASET = "published-sample"


@dataclass(frozen=True)
class PublishedSample:
    """Generated customers and a project after one default run on them (read only)."""

    data_dir: Path
    root: Path
    result: RunResult


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def invoice_total_by_hand(data_dir: Path) -> tuple[float, int]:
    """The dataset's documented invoice formula, in plain Python, independent of the SQL."""
    with open(data_dir / "Discount_Coupon.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    coupons = {(row[0], row[1]): float(row[3]) / 100 for row in rows[1:]}
    with open(data_dir / "Tax_amount.csv", newline="") as handle:
        gst = {row["Product_Category"]: float(row["GST"]) for row in csv.DictReader(handle)}
    total = 0.0
    lines = 0
    with open(data_dir / "Online_Sales.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            month = _MONTHS[int(row["Transaction_Date"].split("/")[0]) - 1]
            discount = 0.0
            if row["Coupon_Status"] == "Used":
                discount = coupons.get((month, row["Product_Category"]), 0.0)
            total += float(row["Quantity"]) * float(row["Avg_Price"]) * (1 - discount) * (
                1 + gst[row["Product_Category"]]
            ) + float(row["Delivery_Charges"])
            lines += 1
    return total, lines


def write_config(folder: Path, text: str, name: str = "custseg.toml") -> Path:
    """A config file ``name`` in ``folder`` holding ``text`` (dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


#: The run id of :func:`rerun_history`'s record (the pattern of a real one).
RERUN_ID = "20300101T000000Z-abcdef"


def rerun_history(
    invocation: DbtInvocation, as_of_date: dt.date, model_version: str, count_customers: int
) -> list[DbtNodeResult]:
    """Build the history models only, as a publication of ``as_of_date`` by another run
    (:data:`RERUN_ID`) would: the segments of the mart recorded again for that date, so that
    the engine's incremental strategy replaces the date's rows. ``invocation`` is the engine's;
    the history's environment is added to it."""
    record = RunRecord(
        as_of_date=as_of_date,
        run_id=RERUN_ID,
        model_version=model_version,
        dataset="rerun",
        count_segments=1,
        count_customers=count_customers,
        input_fingerprint="0" * 64,
        silhouette=None,
        bootstrap_stability=None,
        smallest_segment_share=0.5,
        names_supported=False,
        retrained=False,
    )
    env = {**(invocation.env or {}), **history_env("run", [record])}
    return run_dbt(dataclasses.replace(invocation, env=env), "build", "--select", *HISTORY_TABLES)


def dbt_show_rows(invocation: DbtInvocation, sql: str) -> list[tuple[Any, ...]]:
    """What a failing multi-column test (dbt_pipeline/tests/generic/) tells custseg, for
    ``sql`` (dbt Jinja: a call of the test's macro) on the invocation's warehouse: read by
    ``dbt show`` and custseg.dbt.runner's ``broken_column_rules``, as custseg reads a failing
    test's rows (model, column, rule, number of failing rows), in order."""
    argv = invocation.command_line(
        "show", ("--inline", sql, "--limit", "-1", "--no-write-json", "--log-level", "none")
    )
    shown = invoke_dbt_runner(invocation, argv, None)
    assert shown.success, shown.exception
    [result] = shown.result.results
    return broken_column_rules(result.agate_table)


#: Ranges of customer_segments' segment ids on the real dataset (1468 customers: 108 in segment
#: 0, 336 in 1, 146 in 2, 466 in 3, 412 in 4), and the rows accepted_ranges returns for them:
#: one per range some rows break, in the order given, none for the range every id is in.
_SEGMENT_ID_RANGES = (
    "[{'column': 'segment_id', 'min_value': 0, 'max_value': 4},"
    " {'column': 'segment_id', 'max_value': 2},"
    " {'column': 'segment_id', 'min_value': 0, 'max_value': 3, 'inclusive': false},"
    " {'column': 'segment_id', 'max_value': -1}]"
)
_SEGMENT_ID_RANGE_ROWS = [
    ("customer_segments", "segment_id", "above 2", 466 + 412),
    ("customer_segments", "segment_id", "at or below 0 or at or above 3", 108 + 466 + 412),
    ("customer_segments", "segment_id", "above -1", 1468),
]


def assert_multi_column_tests_count_each_column(invocation: DbtInvocation) -> None:
    """not_null_columns and accepted_ranges (dbt_pipeline/tests/generic/) on the real
    dataset's published seeds: one row per rule broken, with exact counts, in the order of the
    test's columns; no row for a rule no row breaks, nor on an empty seed (not even for a rule
    every row would break), whichever way column_rule_failures reads the model."""
    segments, empty = "ref('customer_segments')", "ref('backfill_model_parameters')"
    assert dbt_show_rows(
        invocation, f"{{{{ test_accepted_ranges({segments}, {_SEGMENT_ID_RANGES}) }}}}"
    ) == (_SEGMENT_ID_RANGE_ROWS)
    assert (
        dbt_show_rows(invocation, f"{{{{ test_accepted_ranges({empty}, {_SEGMENT_ID_RANGES}) }}}}")
        == []
    )
    columns = "['customer_id', 'segment_id', 'segment_name']"
    assert (
        dbt_show_rows(invocation, f"{{{{ test_not_null_columns({segments}, {columns}) }}}}") == []
    )
    # A quote in a column's name or rule; a rule no row breaks between two that some do.
    rules = (
        "[{'column': 'segment_name', 'rule': \"isn't At-Risk\","
        " 'condition': \"segment_name <> 'At-Risk (Lapsing)'\"},"
        " {'column': 'segment_id', 'rule': 'null', 'condition': 'segment_id is null'},"
        " {'column': \"segment's id\", 'rule': 'is 2', 'condition': 'segment_id = 2'}]"
    )
    for one_scan in ("true", "false"):
        call = f"column_rule_failures({segments}, {rules}, one_scan={one_scan})"
        assert dbt_show_rows(invocation, f"{{{{ {call} }}}}") == [
            ("customer_segments", "segment_name", "isn't At-Risk", 1468 - 336),
            ("customer_segments", "segment's id", "is 2", 146),
        ], one_scan
        call = f"column_rule_failures({empty}, {rules}, one_scan={one_scan})"
        assert dbt_show_rows(invocation, f"{{{{ {call} }}}}") == [], one_scan
