"""The HTML report: built from a real run on generated data, checked as text and in Chromium.

The mart half builds small ``fct_customer_segments`` tables in DuckDB to check what the report
reads: an exact, row-order-independent aggregation and a scatter sample drawn in SQL.

The browser half drives headless Chromium over the DevTools protocol on a pipe (file
descriptors 3 and 4, ``--remote-debugging-pipe``), so it needs no websocket client: it fails
on any console error, exception or network request, checks that every chart was laid out with
shapes in it, and decodes a screenshot to check that the page is not blank and shows the
segment colours.
"""

from __future__ import annotations

import base64
import contextlib
import decimal
import html
import html.parser
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

import custseg.report
from custseg.catalogue import SEGMENT_NAMES, SEGMENT_TYPES, color_of
from custseg.cli import cli
from custseg.dbt.runner import DbtInvocation, run_dbt
from custseg.model.model_file import load_model
from custseg.pipeline import report_pipeline, run_pipeline
from custseg.report import MAX_SCATTER_POINTS, ReportError, build_report, read_json
from custseg.report.data import read_mart, read_scatter_sample
from custseg.report.page import STYLESHEET, stylesheet
from custseg.sample import generate_sample_data
from custseg.settings import REPORT_FILE, Settings, resolve_settings
from custseg.warehouses import Warehouse, duckdb_warehouse, open_warehouse
from tests.machine import not_installed
from tests.support import copy_project

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Charts of the report of one run: 2 size/revenue, 4 profiles, 1 scatter, 3 mixes, 1 k
# selection, and the drift of its as-of date against the training data (a history of one date
# has no shares over time to draw, and no previous date to compare with).
EXPECTED_CHARTS = 12
MART_IDS = "select distinct segment_id from fct_customer_segments order by 1"
REPORT_PACKAGE_DIR = Path(custseg.report.__file__).parent


@dataclass(frozen=True)
class Published:
    """A project after `custseg run --k auto` on generated data, and its report."""

    root: Path
    duckdb_path: Path
    report: Path
    text: str


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    tmp = tmp_path_factory.mktemp("report")
    data_dir = tmp / "data"
    generate_sample_data(data_dir, n_customers=400, seed=3)
    root = copy_project(tmp / "project")
    # k chosen automatically, so that k_selection.json exists and the report shows it.
    config = resolve_settings(data_dir=data_dir, project_dir=root, k="auto")
    run_pipeline(config)
    report = report_pipeline(config)
    return Published(
        root=root,
        duckdb_path=config.duckdb_path,
        report=report,
        text=report.read_text(encoding="utf-8"),
    )


def mart_rows(published: Published, sql: str) -> list[tuple]:
    with duckdb.connect(str(published.duckdb_path)) as con:
        return con.execute(sql).fetchall()


# ------------------------------------------------------------------------------------------
# The file
# ------------------------------------------------------------------------------------------


class TableRows(html.parser.HTMLParser):
    """The ``data-*`` attributes of the rows of one table, by table id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.inside = False
        self.rows: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.inside = values.get("id") == self.table_id
        elif tag == "tr" and self.inside and "data-customers" in values:
            self.rows.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False


def test_report_is_written_beside_the_model(published: Published) -> None:
    assert published.report == published.root / "ml_pipeline" / "models" / REPORT_FILE
    assert published.text.startswith("<!DOCTYPE html>")


def test_every_segment_and_its_numbers_match_the_mart(published: Published) -> None:
    mart = mart_rows(
        published,
        "select segment_id, segment_name, count(*), sum(lifetime_revenue) "
        "from fct_customer_segments group by 1, 2 order by 1",
    )
    assert mart, "the run published no segments"
    parser = TableRows("segment-table")
    parser.feed(published.text)
    by_id = {int(row["data-segment-id"]): row for row in parser.rows if "data-segment-id" in row}
    assert sorted(by_id) == [row[0] for row in mart]
    for segment_id, name, customers, revenue in mart:
        assert name == SEGMENT_NAMES[segment_id]
        assert published.text.count(name) >= 5, f"{name} is missing from some sections"
        assert int(by_id[segment_id]["data-customers"]) == customers
        assert float(by_id[segment_id]["data-revenue"]) == pytest.approx(revenue, abs=0.01)
    (total,) = [row for row in parser.rows if "data-segment-id" not in row]
    assert int(total["data-customers"]) == sum(row[2] for row in mart)
    assert f"{sum(row[2] for row in mart):,}" in published.text


def test_every_segment_row_says_what_to_do(published: Published) -> None:
    ids = [row[0] for row in mart_rows(published, MART_IDS)]
    actions = re.findall(r'<span class="sub action">Action: (.*?)</span>', published.text)
    assert actions == [html.escape(SEGMENT_TYPES[i].action, quote=True) for i in ids]


def test_the_win_back_list_finds_customers_on_the_sample_too(published: Published) -> None:
    # The list's value threshold is relative (top revenue quartile), so it is not empty on data
    # in another range than the real data's; the ids take whatever the sample run published.
    ids = [row[0] for row in mart_rows(published, MART_IDS)]
    project = published.root / "dbt_pipeline"
    env = {"CUSTSEG_DUCKDB_PATH": str(published.duckdb_path)}
    invocation = DbtInvocation(project, "duckdb", env=env, vars={"target_segment_ids": ids})
    run_dbt(invocation, "compile", "--select", "high_value_at_risk_targets")
    sql = (project / "target/compiled/custseg/analyses/high_value_at_risk_targets.sql").read_text()
    rows = mart_rows(published, sql)
    ((customers,),) = mart_rows(published, "select count(*) from fct_customer_segments")
    assert 0 < len(rows) <= customers // 4 + 1


def embedded_data(text: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="custseg-report-data">(.*?)</script>', text, re.S
    )
    assert match
    return json.loads(match.group(1))


def test_embedded_data_matches_the_mart(published: Published) -> None:
    data = embedded_data(published.text)
    gender = mart_rows(
        published,
        "select segment_id, gender, count(*) from fct_customer_segments group by 1, 2",
    )
    assert {
        (int(sid), value): count
        for sid, mix in data["mixes"]["gender"].items()
        for value, count in mix.items()
    } == {(sid, value): count for sid, value, count in gender}
    assert data["chosen_k"] == len(data["segments"])


def test_embedded_numbers_are_the_exact_sql_aggregates(published: Published) -> None:
    """Sums over decimal(38, 10), means as those sums over the count: the same digits whatever
    order the engine adds the rows in (a float avg can differ in its last bits)."""
    exact = ", ".join(
        f"sum(cast({c} as decimal(38, 10))), count({c})"
        for c in ("recency_days", "count_orders", "lifetime_revenue", "avg_order_value")
    )
    rows = mart_rows(
        published,
        f"select segment_id, count(*), {exact} from fct_customer_segments group by 1 "
        f"union all select null, count(*), {exact} from fct_customer_segments",
    )
    data = embedded_data(published.text)
    parser = TableRows("segment-table")
    parser.feed(published.text)
    attributes = {row.get("data-segment-id"): row for row in parser.rows}
    embedded = {s["segment_id"]: s for s in data["segments"]} | {None: data["overall"]}
    assert sorted(embedded, key=str) == sorted((row[0] for row in rows), key=str)
    for segment_id, customers, *sums in rows:
        means = [
            float(decimal.Decimal(total) / decimal.Decimal(count))
            for total, count in zip(sums[::2], sums[1::2], strict=True)
        ]
        facts = embedded[segment_id]
        assert facts["customers"] == customers
        assert facts["revenue"] == round(float(sums[4]), 6)
        assert [
            facts["mean_recency_days"],
            facts["mean_orders"],
            facts["mean_revenue"],
            facts["mean_order_value"],
        ] == [round(mean, 6) for mean in means]
        key = None if segment_id is None else str(segment_id)
        assert attributes[key]["data-revenue"] == f"{float(sums[4]):.2f}"


def test_the_page_references_nothing_outside_itself(published: Published) -> None:
    text = published.text
    external = re.findall(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert external == []
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", text, re.I)
    assert "@import" not in text and '<link rel="stylesheet"' not in text
    assert "default-src 'none'" in text  # the CSP forbids loading anything at all
    assert "<script>" not in text and "<script src" not in text
    size = published.report.stat().st_size
    assert 20_000 < size < 400_000, size


def test_the_report_shows_the_model_card_and_k_selection(published: Published) -> None:
    model = json.loads((published.root / "ml_pipeline/models/segment_model.json").read_text())
    text = published.text
    assert model["metadata"]["input_fingerprint"] in text
    assert model["integrity"]["sha256"] in text
    assert f"as of {model['metadata']['as_of_date']}" in text
    for version in model["metadata"]["library_versions"].values():
        assert version in text
    for segment in model["model"]["segments"]:
        assert html.escape(segment["evidence"]) in text
    assert 'id="k-table"' in text and ">chosen</span>" in text


def test_a_history_of_one_date_says_where_it_starts_and_how_to_backfill(
    published: Published,
) -> None:
    """One run: no shares over time, moves or at-risk list yet, each saying what fills it; the
    drift of the run's date against its own training data is zero, so no alarm."""
    text = html.unescape(published.text)
    assert "The history starts here: it holds one as-of date (2020-01-01)." in text
    assert "`custseg backfill --from DATE --to 2020-01-01 --every month`" in text
    assert "Moves need two as-of dates in the history." in text
    assert "No at-risk list yet: `custseg moves` learns from the history" in text
    assert "Every figure is within its threshold." in text
    assert 'id="chart-psi-training"' in text and 'id="chart-psi-previous"' not in text
    for absent in ("chart-shares-over-time", "transition-matrix", "at-risk-table"):
        assert f'id="{absent}"' not in text
    history = embedded_data(published.text)["history"]
    assert history["as_of_dates"] == ["2020-01-01"]
    assert history["unavailable"] == {}
    assert [f["psi"] for f in history["drift"]["features"]] == [0.0, 0.0, 0.0]


def test_same_inputs_give_the_same_bytes(published: Published, tmp_path: Path) -> None:
    models = published.root / "ml_pipeline" / "models"
    config = resolve_settings(data_dir=published.root, project_dir=published.root)
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    k_selection = read_json(models / "k_selection.json", "k selection")
    with open_warehouse(config) as warehouse:
        again = build_report(document, metrics, warehouse, tmp_path / "again.html", k_selection)
        without_k = build_report(document, metrics, warehouse, tmp_path / "without_k.html")
    assert again.read_bytes() == published.report.read_bytes()
    assert "Run `custseg evaluate`" in without_k.read_text(encoding="utf-8")


def test_a_report_opens_the_duckdb_file_once(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its dozen reads share one connection (Warehouse.reads): opening the file costs more
    than any of them. The page is the same."""
    models = published.root / "ml_pipeline" / "models"
    config = resolve_settings(project_dir=published.root)
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    k_selection = read_json(models / "k_selection.json", "k selection")
    opened: list[Path] = []
    connect = duckdb_warehouse.connect_file

    def counted(path: Path) -> duckdb.DuckDBPyConnection:
        opened.append(path)
        return connect(path)

    monkeypatch.setattr(duckdb_warehouse, "connect_file", counted)
    with open_warehouse(config) as warehouse:
        page = build_report(document, metrics, warehouse, tmp_path / "once.html", k_selection)
        assert opened == [config.duckdb_path]
        # Outside the block a read opens the file for itself: dbt opens it between two reads.
        warehouse.fetch("select 1")
        assert len(opened) == 2
    assert page.read_bytes() == published.report.read_bytes()


def test_k_evidence_and_metrics_of_other_data_or_runs_are_not_shown(
    published: Published, tmp_path: Path
) -> None:
    models = published.root / "ml_pipeline" / "models"
    config = resolve_settings(project_dir=published.root)
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    k_selection = read_json(models / "k_selection.json", "k selection")
    dataset = document["metadata"]["dataset"]
    other_dataset = k_selection | {"dataset": "shop-b", "run_id": "20260101T000000Z-abcdef"}
    refreshed = k_selection | {"input_fingerprint": "0" * 64}
    with open_warehouse(config) as warehouse:
        pages = {
            name: html.unescape(
                build_report(
                    document, metrics, warehouse, tmp_path / f"{name}.html", selection
                ).read_text(encoding="utf-8")
            )
            for name, selection in (("other", other_dataset), ("refreshed", refreshed))
        }
        with pytest.raises(ReportError, match="the report would mix two runs"):
            other_run = metrics | {"run_id": "20260101T000000Z-abcdef"}
            build_report(document, other_run, warehouse, tmp_path / "mixed.html", k_selection)
    assert (
        "The saved k selection (run 20260101T000000Z-abcdef) is of dataset shop-b, not of this "
        f"model's dataset {dataset}, so it is not shown." in pages["other"]
    )
    assert (
        f"The saved k selection (run {k_selection['run_id']}) judged other data than the "
        "published model" in pages["refreshed"]
    )
    for page in pages.values():
        assert 'id="k-table"' not in page
        assert '"chosen_k": null' in page
    assert not (tmp_path / "mixed.html").exists()


def test_evaluate_on_another_dataset_is_not_shown_in_the_report(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    for name, seed in (("shop_a", 5), ("shop_b", 6)):
        generate_sample_data(tmp_path / name, n_customers=300, seed=seed)
    where = ["--project-dir", str(root), "--json", "--random-state", "1"]
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "--data-dir", str(tmp_path / "shop_b"), *where])
    assert ran.exit_code == 0, ran.output
    evaluated = runner.invoke(cli, ["evaluate", "--data-dir", str(tmp_path / "shop_a"), *where])
    assert evaluated.exit_code == 0, evaluated.output
    run, evaluation = json.loads(ran.stdout), json.loads(evaluated.stdout)
    assert run["dataset"].startswith("shop_b-") and evaluation["dataset"].startswith("shop_a-")
    reported = runner.invoke(cli, ["report", *where[:3]])
    assert reported.exit_code == 0, reported.output
    text = html.unescape(Path(json.loads(reported.stdout)["report_path"]).read_text("utf-8"))
    assert (
        f"The saved k selection (run {evaluation['run_id']}) is of dataset "
        f"{evaluation['dataset']}, not of this model's dataset {run['dataset']}" in text
    )
    assert 'id="k-table"' not in text
    assert f'"run_id": "{run["run_id"]}"' in text


def test_the_stylesheet_file_is_inlined(published: Published) -> None:
    css = (REPORT_PACKAGE_DIR / "templates" / STYLESHEET).read_text(encoding="utf-8")
    assert ".masthead{" in css and "@media print" in css
    assert stylesheet() == css
    assert f"<style>\n{css}</style>" in published.text


def test_text_from_the_mart_is_escaped(published: Published, tmp_path: Path) -> None:
    """A segment name and a location holding markup reach the page as text, not as tags."""
    name, place = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    copy = tmp_path / "hostile.duckdb"
    with duckdb.connect(str(published.duckdb_path)) as con:
        con.execute(f"attach '{copy}' as hostile")
        con.execute("create table hostile.fct_customer_segments as from fct_customer_segments")
        con.execute(
            "update hostile.fct_customer_segments set segment_name = ? "
            "where segment_id = (select min(segment_id) from fct_customer_segments)",
            [name],
        )
        # Enough customers that the location is one of the few the legend names.
        con.execute(
            "update hostile.fct_customer_segments set location = ? where customer_id in "
            "(select customer_id from fct_customer_segments order by customer_id limit 150)",
            [place],
        )
        con.execute("detach hostile")
    models = published.root / "ml_pipeline" / "models"
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    with open_warehouse(Settings(duckdb_path=copy)) as warehouse:
        page = build_report(document, metrics, warehouse, tmp_path / "r.html").read_text("utf-8")
    assert html.escape(name) in page and html.escape(place) in page
    tags = PageTags()
    tags.feed(page)
    assert tags.starts.count("script") == 1  # the JSON data block alone
    assert "img" not in tags.starts
    assert tags.text.count(name) >= 5  # legend, bar labels, tables: as text everywhere
    assert place in tags.text


class PageTags(html.parser.HTMLParser):
    """The start tags of a page and its text (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[str] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "\n".join(self.chunks)


def test_cli_writes_the_report_where_asked(published: Published, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report.html"
    result = CliRunner().invoke(
        cli, ["report", "--project-dir", str(published.root), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert out.read_bytes() == published.report.read_bytes()


def test_cli_json_and_quiet(published: Published, tmp_path: Path) -> None:
    args = ["report", "--project-dir", str(published.root), "--out", str(tmp_path / "r.html")]
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"report_path": str(tmp_path / "r.html")}
    assert as_json.stderr == ""
    quiet = CliRunner().invoke(cli, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    plain = CliRunner().invoke(cli, args)
    assert plain.stderr.splitlines()[-1].endswith("] Done")


def test_cli_without_a_published_model_says_to_run_first(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "fresh")
    result = CliRunner().invoke(cli, ["report", "--project-dir", str(root)])
    assert result.exit_code == ReportError.exit_code
    assert "run `custseg run` first" in result.output
    assert not (root / "dbt_pipeline" / "custseg.duckdb").exists()


# ------------------------------------------------------------------------------------------
# What the report reads from the mart
# ------------------------------------------------------------------------------------------


def synthetic_mart(path: Path, n_customers: int, *, shuffled: bool) -> Warehouse:
    """A DuckDB warehouse whose fct_customer_segments holds ``n_customers`` made-up customers,
    stored in customer order or in a shuffled order (the same rows either way)."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"""
            create table fct_customer_segments as
            select
                'c' || lpad(cast(i as varchar), 6, '0') as customer_id,
                cast(i % 5 as integer) as segment_id,
                'Segment ' || cast(i % 5 as varchar) as segment_name,
                case when i % 3 = 0 then 'Female' else 'Male' end as gender,
                'City ' || cast(i % 4 as varchar) as location,
                case when i % 2 = 0 then 'Active' else 'Dormant' end as activity_status,
                cast(i % 365 as bigint) as recency_days,
                cast(1 + i % 9 as bigint) as count_orders,
                -- Sevenths: doubles whose float sum depends on the order they are added in.
                (i * 7919 % 100003) / 7.0 + 0.01 as lifetime_revenue,
                (i * 104729 % 1009) / 7.0 + 1.0 as avg_order_value,
                date '2020-01-01' as as_of_date
            from range({n_customers}) as t(i)
            order by {"hash(i)" if shuffled else "i"}
            """
        )
    return open_warehouse(Settings(duckdb_path=path))


def recording_fetches(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many rows each query of ``warehouse`` returns."""
    sizes: list[int] = []
    fetch = warehouse.fetch

    def recorded(sql: str) -> list[tuple]:
        rows = fetch(sql)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(warehouse, "fetch", recorded)
    return sizes


def test_the_scatter_sample_is_drawn_in_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 9000
    ordered = synthetic_mart(tmp_path / "ordered.duckdb", n, shuffled=False)
    shuffled = synthetic_mart(tmp_path / "shuffled.duckdb", n, shuffled=True)
    sizes = recording_fetches(ordered, monkeypatch)
    facts = read_mart(ordered, max_points=MAX_SCATTER_POINTS, random_state=42)
    # No query brought every customer over: the engine drew the sample.
    assert facts.overall.customers == n
    assert sizes and max(sizes) == MAX_SCATTER_POINTS
    assert len(facts.points) == MAX_SCATTER_POINTS
    # Every segment is in the sample, in about its share (1/5 each).
    per_segment = np.bincount([sid for sid, _, _ in facts.points])
    assert per_segment.min() > MAX_SCATTER_POINTS / 5 * 0.8, per_segment
    # The same customers whatever order the rows are stored in, and on a re-run.
    again = read_scatter_sample(ordered, max_points=MAX_SCATTER_POINTS, random_state=42)
    other_order = read_scatter_sample(shuffled, max_points=MAX_SCATTER_POINTS, random_state=42)
    assert facts.points == again == other_order
    # The seed chooses the sample.
    other_seed = read_scatter_sample(ordered, max_points=MAX_SCATTER_POINTS, random_state=7)
    assert other_seed != facts.points and len(other_seed) == MAX_SCATTER_POINTS


def test_a_small_mart_is_drawn_whole_in_customer_id_order(tmp_path: Path) -> None:
    warehouse = synthetic_mart(tmp_path / "small.duckdb", 1200, shuffled=True)
    points = read_scatter_sample(warehouse, max_points=MAX_SCATTER_POINTS, random_state=42)
    expected = mart_query(
        tmp_path / "small.duckdb",
        "select segment_id, recency_days, lifetime_revenue from fct_customer_segments "
        "order by customer_id",
    )
    assert points == [(sid, float(rec), rev) for sid, rec, rev in expected]


def test_sums_and_means_do_not_depend_on_the_row_order(tmp_path: Path) -> None:
    ordered_path, shuffled_path = tmp_path / "ordered.duckdb", tmp_path / "shuffled.duckdb"
    ordered = synthetic_mart(ordered_path, 20_000, shuffled=False)
    shuffled = synthetic_mart(shuffled_path, 20_000, shuffled=True)
    float_sums = "select sum(lifetime_revenue), avg(avg_order_value) from fct_customer_segments"
    # The data is such that the engine's own float sums differ between the two orders...
    assert mart_query(ordered_path, float_sums) != mart_query(shuffled_path, float_sums)
    first = read_mart(ordered, max_points=MAX_SCATTER_POINTS, random_state=42)
    second = read_mart(shuffled, max_points=MAX_SCATTER_POINTS, random_state=42)
    # ...and the report's do not.
    assert first == second
    ((exact_sum, count),) = mart_query(
        ordered_path,
        "select sum(cast(lifetime_revenue as decimal(38, 10))), count(*) "
        "from fct_customer_segments",
    )
    assert first.overall.revenue == float(exact_sum)
    assert first.overall.mean_revenue == float(decimal.Decimal(exact_sum) / decimal.Decimal(count))


def mart_query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path)) as con:
        return con.execute(sql).fetchall()


# ------------------------------------------------------------------------------------------
# In a real browser
# ------------------------------------------------------------------------------------------


def chromium_binary() -> str:
    """Path of Chromium; fails in CI (where it must be installed), skips elsewhere."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium not found: install it (Debian: apt-get install chromium) to test the report"
    not_installed(message)


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (no websocket needed).

    With ``--remote-debugging-pipe`` Chromium reads NUL-terminated JSON commands from file
    descriptor 3 and writes replies and events to descriptor 4.
    """

    def __init__(self, binary: str, profile_dir: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.events: list[dict] = []
        self._buffer = b""
        self._next_id = 0
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def child_fds() -> None:  # runs in the child between fork and exec
            # dup first: dup2 onto the same number would keep the close-on-exec flag.
            reader, writer = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(reader, 3)
            os.dup2(writer, 4)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # containers and CI runners rarely allow the sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",  # CI containers often have a tiny /dev/shm
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile_dir}",
                "about:blank",
            ],
            # child_fds only makes dup/dup2 system calls: no lock another thread could hold.
            preexec_fn=child_fds,
            close_fds=False,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            # Our own session (start_new_session): the browser and its helper processes.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        command: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message(deadline))


@dataclass(frozen=True)
class Rendered:
    """What Chromium saw when it opened the report."""

    events: list[dict]
    charts: list[dict]
    segment_rows: int
    screenshot: bytes


#: What the browser tests measure on the page (a JSON string, evaluated in the page).
PROBE = """JSON.stringify({
    charts: Array.from(document.querySelectorAll('svg.chart')).map(svg => {
        const box = svg.getBoundingClientRect();
        return {id: svg.id, width: box.width, height: box.height,
                shapes: svg.querySelectorAll('rect, path, circle, line').length};
    }),
    segmentRows: document.querySelectorAll('#segment-table tbody tr').length,
    height: document.documentElement.scrollHeight,
})"""


def open_in_chromium(
    report: Path, profile_dir: Path, probe: str = PROBE
) -> tuple[list, dict, bytes]:
    """Open ``report`` in headless Chromium at 1280 pixels wide; return the browser's events,
    the value of ``probe`` (which must report the page's ``height``) and a screenshot of the
    whole page at half scale."""
    browser = DevTools(chromium_binary(), profile_dir)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send("Page.navigate", {"url": report.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        result = browser.send(
            "Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session
        )
        page = json.loads(result["result"]["value"])
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                # Fast encoding uses the Up filter only, which numpy decodes in milliseconds.
                "optimizeForSpeed": True,
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": page["height"], "scale": 0.5},
            },
            session=session,
        )
        events = list(browser.events)
    finally:
        browser.close()
    return events, page, base64.b64decode(shot["data"])


def browser_problems(events: list[dict]) -> list[str]:
    """Console errors, exceptions and network requests among the browser's events."""
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(params["entry"]["text"])
        elif method == "Runtime.exceptionThrown":
            problems.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            problems.append(str(params.get("args")))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:")):
                problems.append(f"network request to {url}")
    return problems


@pytest.fixture(scope="module")
def rendered(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    events, page, screenshot = open_in_chromium(
        published.report, tmp_path_factory.mktemp("chromium-profile")
    )
    return Rendered(
        events=events,
        charts=page["charts"],
        segment_rows=page["segmentRows"],
        screenshot=screenshot,
    )


def test_browser_reports_no_error_and_no_network_request(rendered: Rendered) -> None:
    assert browser_problems(rendered.events) == []


def test_every_chart_is_laid_out_with_shapes(rendered: Rendered, published: Published) -> None:
    assert len(rendered.charts) == EXPECTED_CHARTS, rendered.charts
    for chart in rendered.charts:
        assert chart["shapes"] > 0, chart
        assert chart["width"] > 100 and chart["height"] > 50, chart
    ((n_segments,),) = mart_rows(
        published, "select count(distinct segment_id) from fct_customer_segments"
    )
    assert rendered.segment_rows == n_segments + 1  # plus the "All customers" row


def test_screenshot_is_not_blank_and_shows_every_segment_colour(
    rendered: Rendered, published: Published
) -> None:
    pixels = decode_png(rendered.screenshot)
    height, width, _ = pixels.shape
    assert width == 640 and height > 1000
    rgb = pixels.astype(np.uint32)
    colours = set(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]).tolist())
    assert len(colours) > 50
    segments = mart_rows(published, "select distinct segment_id from fct_customer_segments")
    for (segment_id,) in segments:
        colour = int(color_of(segment_id)[1:], 16)
        assert colour in colours, f"no pixel of segment {segment_id}'s colour on the page"


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG into an (height, width, 3) uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks = 8, []
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, body
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    rows = raw.reshape(height, width * channels + 1)
    image = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:
            current = np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint8).ravel()
        elif kind == 2:
            current = line + previous
        else:  # Average (3) and Paeth (4) depend on the pixel to the left: done byte by byte.
            current = _unfilter_slow(int(kind), line, previous, channels)
        image[y] = current
        previous = current
    return image.reshape(height, width, channels)[:, :, :3]


def _unfilter_slow(kind: int, line: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    out = bytearray(len(line))
    above = previous.tobytes()
    for i, value in enumerate(line.tobytes()):
        left = out[i - bpp] if i >= bpp else 0
        up = above[i]
        if kind == 3:
            out[i] = (value + (left + up) // 2) & 0xFF
            continue
        upper_left = above[i - bpp] if i >= bpp else 0
        estimate = left + up - upper_left
        distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
        predictor = (left, up, upper_left)[distances.index(min(distances))]
        out[i] = (value + predictor) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)
