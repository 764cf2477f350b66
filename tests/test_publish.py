"""Validation and all-or-nothing publishing of the seeds and the mart built on them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import numpy as np
import pytest

from custseg.catalogue import SEGMENT_NAMES
from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import PublishError
from custseg.pipeline import run_pipeline
from custseg.publish.atomic import write_bytes_atomic
from custseg.publish.publication import publication
from custseg.publish.seeds import render_segments_csv
from custseg.publish.validation import validate_segments_csv
from custseg.sample import generate_sample_data
from custseg.settings import resolve_settings
from custseg.warehouses import open_warehouse
from tests.support import PublishedSample, copy_project_state

NAMES = {0: "Big Spenders", 1: "At-Risk (Lapsing)", 2: "Occasional Shoppers"}


def test_render_sorts_by_customer_id_and_names_each_id() -> None:
    data = render_segments_csv(["b", "007", "a"], [2, 0, 1], NAMES)
    assert data == (
        b"customer_id,segment_id,segment_name\n"
        b"007,0,Big Spenders\n"
        b"a,1,At-Risk (Lapsing)\n"
        b"b,2,Occasional Shoppers\n"
    )


def test_ids_the_csv_module_quotes_are_rendered_and_read_back_as_it_does() -> None:
    ids = ["plain", "with,comma", 'with"quote', "two\nlines", "carriage\rreturn", " space "]
    labels = [0, 1, 2, 0, 1, 2]
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(("customer_id", "segment_id", "segment_name"))
    for customer_id, segment_id in sorted(zip(ids, labels, strict=True)):
        writer.writerow((customer_id, segment_id, NAMES[segment_id]))
    data = render_segments_csv(ids, np.array(labels), NAMES)
    assert data == expected.getvalue().encode("utf-8")
    # The csv module leaves a carriage return unquoted with LF line ends, and reads it as a line
    # end: the validation stops such a file, naming the line.
    with pytest.raises(PublishError, match="s.csv line 3: expected 3 values, got 1"):
        validate_segments_csv(data, ids, NAMES, source="s.csv")
    readable = [customer_id for customer_id in ids if "\r" not in customer_id]
    data = render_segments_csv(readable, np.array(labels[: len(readable)]), NAMES)
    assert validate_segments_csv(data, readable, NAMES, source="s.csv") == len(readable)
    plain = ["b", " a", "c d"]
    assert render_segments_csv(plain, np.array([1, 2, 0]), NAMES) == (
        b"customer_id,segment_id,segment_name\n"
        b" a,2,Occasional Shoppers\n"
        b"b,1,At-Risk (Lapsing)\n"
        b"c d,0,Big Spenders\n"
    )


def test_a_valid_csv_counts_its_rows() -> None:
    data = render_segments_csv(["x", "y"], [0, 2], NAMES)
    assert validate_segments_csv(data, ["x", "y"], NAMES, source="s.csv") == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("customer_id,segment,segment_name\n", "s.csv line 1: header must be"),
        (
            "customer_id,segment_id,segment_name\nx,0,Big Spenders\nx,0,Big Spenders\n",
            "s.csv line 3, column customer_id: 'x' appears twice",
        ),
        (
            "customer_id,segment_id,segment_name\nx,0,Big Spenders\nz,0,Big Spenders\n",
            "s.csv line 3, column customer_id: 'z' is not a customer",
        ),
        (
            "customer_id,segment_id,segment_name\nx,9,Big Spenders\ny,0,Big Spenders\n",
            "s.csv line 2, column segment_id: '9' is not one of [0, 1, 2]",
        ),
        (
            "customer_id,segment_id,segment_name\nx,1,Big Spenders\ny,0,Big Spenders\n",
            "s.csv line 2, column segment_name: 'Big Spenders' does not match segment_id 1",
        ),
        (
            "customer_id,segment_id,segment_name\nx,0,\ny,0,Big Spenders\n",
            "s.csv line 2, column segment_name: empty value",
        ),
        (
            "customer_id,segment_id,segment_name\nx,0,Big Spenders\n",
            "s.csv: 1 customer(s) have no segment (for example y)",
        ),
    ],
)
def test_invalid_csv_is_rejected_naming_line_and_column(body: str, message: str) -> None:
    with pytest.raises(PublishError) as caught:
        validate_segments_csv(body.encode(), ["x", "y"], NAMES, source="s.csv")
    assert message in str(caught.value)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "seed.csv"
    target.write_bytes(b"old")
    write_bytes_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["seed.csv"]


def test_a_seed_failing_a_dbt_test_is_rolled_back_and_the_mart_kept(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    project_root = copy_project_state(published_sample.root, tmp_path / "project")
    config = resolve_settings(data_dir=published_sample.data_dir, project_dir=project_root)
    good_seed = config.layout.segments_seed_path.read_bytes()
    outputs = {p.name: p.read_bytes() for p in config.layout.output_dir.iterdir()}
    with duckdb.connect(str(config.duckdb_path)) as con:
        good_mart = con.execute(
            "select * from fct_customer_segments order by customer_id"
        ).fetchall()

    # Passes the CSV shape but names a customer the warehouse does not know: only dbt's
    # relationships test can catch it.
    bad = good_seed + b"ghost-customer,2,Occasional Shoppers\n"
    seed_path = config.layout.segments_seed_path
    with (
        open_warehouse(config) as warehouse,
        pytest.raises(PublishError) as caught,
        publication(config.layout, warehouse, [seed_path]) as published,
    ):
        published.replace_now(seed_path, bad)
        run_dbt(invocation_for(config, warehouse), "build", "--select", "customer_segments+")
    message = str(caught.value)
    assert "relationships_customer_segments_customer_id" in message
    assert caught.value.__notes__ == [
        "The previous seeds, tables, model, metrics and report were put back."
    ]

    assert config.layout.segments_seed_path.read_bytes() == good_seed
    assert {p.name: p.read_bytes() for p in config.layout.output_dir.iterdir()} == outputs
    with duckdb.connect(str(config.duckdb_path)) as con:
        assert con.execute("select count(*) from customer_segments").fetchone() == (len(good_mart),)
        mart = con.execute("select * from fct_customer_segments order by customer_id").fetchall()
    assert mart == good_mart
    assert set(SEGMENT_NAMES.values()) >= {row[5] for row in mart}


def test_a_mart_failing_its_own_test_is_put_back_to_the_last_good_one(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    """dbt replaces fct_customer_segments before testing it: the failed version must not stay."""
    # A project after a good run on 300 customers (shared), then a run on 320 others.
    project_root = copy_project_state(published_sample.root, tmp_path / "project")
    second_data = tmp_path / "second"
    generate_sample_data(second_data, n_customers=320, seed=4)
    first = resolve_settings(data_dir=published_sample.data_dir, project_dir=project_root)
    seeds = {path: path.read_bytes() for path in first.layout.published_seeds_dir.glob("*.csv")}
    outputs = {p.name: p.read_bytes() for p in first.layout.output_dir.iterdir()}

    def published() -> tuple[list[tuple], list[str]]:
        with duckdb.connect(str(first.duckdb_path)) as con:
            mart = con.execute("select * from fct_customer_segments order by customer_id")
            rows = mart.fetchall()
            tables = con.execute("select table_name from information_schema.tables").fetchall()
        return rows, sorted(name for (name,) in tables)

    good_mart, good_tables = published()
    assert not [name for name in good_tables if name.endswith("__custseg_last_good")]
    # A test only a mart with the second data set's extra customers fails.
    (project_root / "dbt_pipeline" / "tests" / "assert_no_more_than_300_segmented.sql").write_text(
        "select count(*) as customers from {{ ref('fct_customer_segments') }} "
        "having count(*) > 300\n"
    )
    second = resolve_settings(data_dir=second_data, project_dir=project_root)
    with pytest.raises(PublishError) as caught:
        run_pipeline(second)
    assert "assert_no_more_than_300_segmented" in str(caught.value)

    mart, tables = published()
    assert mart == good_mart  # the same rows, updated_at included: the old table itself
    assert tables == good_tables  # no copy left behind
    assert {path: path.read_bytes() for path in seeds} == seeds
    assert {p.name: p.read_bytes() for p in first.layout.output_dir.iterdir()} == outputs
