"""The report's history sections: shares over time, last period's moves, the at-risk list, drift.

One project goes on from a copy of the session's published sample (tests/conftest.py): a
backfill of three month starts before its as-of date (four dates in all), `custseg moves` (which
needs three), then `custseg run` again with a drift threshold of its own, which writes the report
through the run's publication, and `custseg report`, which writes it from the warehouse with the
default thresholds. Each section's numbers are checked against the warehouse's tables, the
alarms against `custseg drift`, and the page in headless Chromium. Copies of the warehouse with
history tables dropped, emptied or broken check that the report still comes out and says why a
section is missing; hand-made figures check the heat map and its sentences exactly.
"""

from __future__ import annotations

import html
import html.parser
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.model.model_file import load_model
from custseg.monitoring.drift_report import DriftThresholds
from custseg.report import build_report, read_json
from custseg.report.history_charts import HEAT_STOPS, heat_color
from custseg.report.history_data import (
    REPORTED_TABLES,
    HistoryFacts,
    Transition,
    TransitionPeriod,
)
from custseg.report.history_sections import transitions
from custseg.settings import Settings
from custseg.warehouses import open_warehouse
from tests.support import (
    CLEAN_ENV,
    PUBLISHED_SAMPLE_DATASET,
    PublishedSample,
    copy_project_state,
)
from tests.test_report import browser_problems, decode_png, embedded_data, open_in_chromium

BACKFILLED = ["2019-10-01", "2019-11-01", "2019-12-01"]
AS_OF_DATES = [*BACKFILLED, "2020-01-01"]
# The threshold `custseg run` is given: above every PSI of the sample's history, so the run's
# report raises no PSI alarm where the default (0.25) does.
RUN_PSI_ALARM = 0.5
LATEST_PERIOD = (
    "select from_segment_id, to_segment_id, count_customers, probability "
    "from fct_segment_transitions where transition_kind = 'period' "
    "and to_as_of_date = date '2020-01-01'"
)


@dataclass(frozen=True)
class HistoryReport:
    """A project with four as-of dates and a move model, and its two reports."""

    root: Path
    database: Path
    # Written by `custseg run --drift-psi-alarm 0.5` (through the run's publication).
    run_text: str
    # Written by `custseg report` (default thresholds).
    report: Path
    text: str


def invoke(*args: str) -> dict:
    result = CliRunner(env=CLEAN_ENV).invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def history(
    published_sample: PublishedSample, tmp_path_factory: pytest.TempPathFactory
) -> HistoryReport:
    base = tmp_path_factory.mktemp("report_history")
    root = copy_project_state(published_sample.root, base / "project")
    where = ("--project-dir", str(root))
    invoke("backfill", "--from", BACKFILLED[0], "--to", BACKFILLED[-1], "--every", "month", *where)
    invoke("moves", *where)
    ran = invoke(
        "run",
        "--data-dir",
        str(published_sample.data_dir),
        "--dataset",
        PUBLISHED_SAMPLE_DATASET,
        "--drift-psi-alarm",
        str(RUN_PSI_ALARM),
        *where,
    )
    run_text = Path(ran["report_path"]).read_text(encoding="utf-8")
    report = Path(invoke("report", "--out", str(base / "report.html"), *where)["report_path"])
    return HistoryReport(
        root=root,
        database=root / "dbt_pipeline" / "custseg.duckdb",
        run_text=run_text,
        report=report,
        text=report.read_text(encoding="utf-8"),
    )


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


class Rows(html.parser.HTMLParser):
    """The attributes of a table's ``tr`` elements and of the ``td`` cells in each."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside = table_id, False
        self.rows: list[tuple[dict[str, str], list[dict[str, str]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.inside = values.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append((values, []))
        elif self.inside and tag == "td" and self.rows:
            self.rows[-1][1].append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False


def table(text: str, table_id: str) -> list[tuple[dict[str, str], list[dict[str, str]]]]:
    parser = Rows(table_id)
    parser.feed(text)
    return [(attrs, cells) for attrs, cells in parser.rows if attrs or cells]


def section(text: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}".*?</section>', text, re.S)
    assert match, f"no section {anchor}"
    return html.unescape(match.group(0))


# ------------------------------------------------------------------------------ the sections


def test_shares_over_time_are_the_memberships_of_every_date(history: HistoryReport) -> None:
    counts = rows(
        history.database,
        "select cast(as_of_date as varchar), segment_id, count(*) from segment_memberships "
        "group by all",
    )
    shown = {
        (attrs["data-as-of-date"], int(cell["data-segment-id"])): int(cell["data-customers"])
        for attrs, cells in table(history.text, "shares-table")
        if "data-as-of-date" in attrs
        for cell in cells
        if "data-segment-id" in cell
    }
    assert {key: n for key, n in shown.items() if n} == {(d, s): n for d, s, n in counts}
    assert sorted({d for d, _ in shown}) == AS_OF_DATES
    assert 'id="chart-shares-over-time"' in history.text
    text = section(history.text, "history")
    assert f"4 dates from {AS_OF_DATES[0]} to {AS_OF_DATES[-1]}" in text
    # Each line ends in its segment's latest share, as the table writes it.
    latest = {s: n for d, s, n in counts if d == AS_OF_DATES[-1]}
    for segment_id, n in latest.items():
        share = f"{n / sum(latest.values()):.1%}"
        assert f'<tspan class="value-strong">{share}</tspan>' in history.text, segment_id


def test_the_heat_map_is_the_last_periods_transition_matrix(history: HistoryReport) -> None:
    expected = {(f, t): (n, p) for f, t, n, p in rows(history.database, LATEST_PERIOD)}
    assert expected, "the backfill gave no transitions"
    matrix = table(history.text, "transition-matrix")
    shown = {
        (int(attrs["data-from-id"]), int(cell["data-to-id"])): (
            int(cell["data-customers"]),
            float(cell["data-probability"]),
        )
        for attrs, cells in matrix
        if "data-from-id" in attrs
        for cell in cells
        if "data-to-id" in cell
    }
    for pair, (n, p) in expected.items():
        assert shown[pair][0] == n
        assert shown[pair][1] == pytest.approx(p, abs=5e-7)
    assert all(shown[pair] == (0, 0.0) for pair in set(shown) - set(expected))
    from_ids = sorted({f for f, _ in shown})
    to_ids = sorted({t for _, t in shown})
    segments = sorted(
        s
        for (s,) in rows(
            history.database,
            "select distinct segment_id from segment_memberships "
            "where as_of_date >= date '2019-12-01'",
        )
    )
    assert from_ids == [-1, *segments] and to_ids == [-2, *segments]
    text = section(history.text, "transitions")
    assert "Not yet a customer" in text and "Left" in text
    assert "as of 2019-12-01 were as of 2020-01-01" in text
    kept = sum(n for (f, t), (n, _) in expected.items() if f == t)
    both = sum(n for (f, t), (n, _) in expected.items() if f >= 0 and t >= 0)
    assert f"{kept:,} of the {both:,} customers at both dates kept their segment" in text


def test_the_at_risk_list_shows_the_first_ten_of_the_warehouse(history: HistoryReport) -> None:
    top = rows(
        history.database,
        "select customer_id, segment_id, at_risk_probability, driver_1_term "
        "from fct_at_risk_candidates order by at_risk_rank limit 10",
    )
    ((count,),) = rows(history.database, "select count(*) from fct_at_risk_candidates")
    assert len(top) == 10 and count > 10
    shown = [attrs for attrs, _ in table(history.text, "at-risk-table") if attrs]
    assert [(a["data-customer-id"], int(a["data-segment-id"])) for a in shown] == [
        (customer, segment) for customer, segment, _, _ in top
    ]
    assert [float(a["data-probability"]) for a in shown] == pytest.approx(
        [p for _, _, p, _ in top], abs=5e-7
    )
    text = section(history.text, "at-risk")
    assert f"of the {count:,} who are not yet as of 2020-01-01" in text
    assert "days since the last order" in text  # the drivers, in words
    assert text.count('class="driver"') >= len(top)


def test_drift_figures_are_the_warehouses_and_alarm_as_custseg_drift_does(
    history: HistoryReport,
) -> None:
    psi = rows(
        history.database,
        "select compared_with, feature_name, psi from fct_feature_drift "
        "where as_of_date = date '2020-01-01'",
    )
    drift = embedded_data(history.text)["history"]["drift"]
    assert drift["as_of_date"] == "2020-01-01"
    assert {(f["compared_with"], f["feature"]): f["psi"] for f in drift["features"]} == {
        (against, name): round(value, 6) for against, name, value in psi
    }
    for against, name, value in psi:
        assert f"{value:.3f}" in section(history.text, "drift"), (against, name)
    # The same alarms as `custseg drift`, which computes them in Python from the memberships.
    checked = CliRunner(env=CLEAN_ENV).invoke(
        cli, ["drift", "--project-dir", str(history.root), "--json"]
    )
    alarms = json.loads(checked.stdout)["alarms"]
    page_alarms = re.findall(r"<li>(Against the .*?)</li>", section(history.text, "drift"))
    assert len(page_alarms) == len(alarms)
    assert checked.exit_code == (8 if alarms else 0)
    shifts = rows(
        history.database,
        "select segment_id, share_shift from fct_segment_drift where as_of_date = "
        "date '2020-01-01' order by segment_id",
    )
    shown = [int(a["data-segment-id"]) for a, _ in table(history.text, "drift-table") if a]
    assert shown == [sid for sid, _ in shifts]


def test_drift_thresholds_come_from_the_settings_where_the_report_is_drawn(
    history: HistoryReport,
) -> None:
    """`custseg run --drift-psi-alarm 0.5` judged the same figures by 0.5, `custseg report` by
    the default 0.25: the alarm past 0.25 is on one page and not on the other."""
    ((largest,),) = rows(
        history.database,
        "select max(psi) from fct_feature_drift where as_of_date = date '2020-01-01'",
    )
    default = DriftThresholds.from_settings(Settings())
    assert default.psi_alarm < largest < RUN_PSI_ALARM, "the sample no longer fits this test"
    by_default, by_run = section(history.text, "drift"), section(history.run_text, "drift")
    assert f"population stability index (PSI) above {default.psi_alarm:g}" in by_default
    assert f"population stability index (PSI) above {RUN_PSI_ALARM:g}" in by_run
    assert f"PSI of days since the last order is {largest:.3f}, above 0.25" in by_default
    assert "PSI of days since the last order is" not in by_run
    assert "Every figure is within its threshold." in by_run
    assert embedded_data(history.run_text)["history"]["drift_thresholds"]["psi_alarm"] == 0.5


def test_the_same_warehouse_gives_the_same_bytes(history: HistoryReport, tmp_path: Path) -> None:
    models = history.root / "ml_pipeline" / "models"
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    k_selection = None
    if (models / "k_selection.json").exists():
        k_selection = read_json(models / "k_selection.json", "k selection")
    with open_warehouse(Settings(duckdb_path=history.database)) as warehouse:
        again = build_report(document, metrics, warehouse, tmp_path / "again.html", k_selection)
    assert again.read_bytes() == history.report.read_bytes()


# ------------------------------------------------------------------------------ older warehouses


def report_from_copy(history: HistoryReport, tmp_path: Path, *statements: str) -> str:
    """The report of a copy of the warehouse after ``statements``."""
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(history.database, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in statements:
            con.execute(statement)
    models = history.root / "ml_pipeline" / "models"
    _, document = load_model(models / "segment_model.json")
    metrics = read_json(models / "evaluation_metrics.json", "metrics")
    with open_warehouse(Settings(duckdb_path=copy)) as warehouse:
        page = build_report(document, metrics, warehouse, tmp_path / "copy.html")
    return page.read_text(encoding="utf-8")


def test_a_warehouse_without_history_tables_still_gets_its_report(
    history: HistoryReport, tmp_path: Path
) -> None:
    page = report_from_copy(history, tmp_path, *(f"drop table {name}" for name in REPORTED_TABLES))
    assert 'id="segment-table"' in page  # the rest of the report is all there
    for anchor, name in (
        ("history", "segment_memberships"),
        ("transitions", "fct_segment_transitions"),
        ("at-risk", "fct_at_risk_candidates"),
        ("drift", "fct_feature_drift"),
    ):
        assert (
            f"{name} is not in this warehouse (it was built by an older custseg): run `custseg "
            "run` to build the history models." in section(page, anchor)
        )
    unavailable = embedded_data(page)["history"]["unavailable"]
    assert unavailable == dict.fromkeys(sorted(REPORTED_TABLES), "not in the warehouse")


def test_an_empty_list_and_an_unreadable_table_are_explained(
    history: HistoryReport, tmp_path: Path
) -> None:
    page = report_from_copy(
        history,
        tmp_path,
        "delete from fct_at_risk_candidates",
        "drop table fct_segment_transitions",
        "create table fct_segment_transitions as select 1 as unexpected_column",
    )
    assert (
        "No at-risk list yet: `custseg moves` learns from the history who moves into At-Risk "
        "(Lapsing)" in section(page, "at-risk")
    )
    transitions_text = section(page, "transitions")
    assert "fct_segment_transitions cannot be read (BinderException:" in transitions_text
    assert 'id="chart-shares-over-time"' in page  # the other sections are unaffected
    assert 'id="drift-table"' in page


# ------------------------------------------------------------------------------ by hand


def test_the_heat_map_of_a_hand_made_period() -> None:
    """Three Loyal Customers and one Champion, one new customer: 2 of 3 Loyal stay, 1 becomes
    At-Risk; the Champion leaves; the new customer is Loyal."""
    cells = (
        Transition(-1, "Not yet a customer", 4, "Loyal Customers", 1, 1.0),
        Transition(3, "Champions (VIPs)", -2, "Left", 1, 1.0),
        Transition(4, "Loyal Customers", 1, "At-Risk (Lapsing)", 1, 1 / 3),
        Transition(4, "Loyal Customers", 4, "Loyal Customers", 2, 2 / 3),
    )
    facts = HistoryFacts(transitions=TransitionPeriod("2019-12-01", "2020-01-01", cells))
    shown = transitions(facts)
    assert shown["summary"] == [
        "2 of the 3 customers at both dates kept their segment (66.7%).",
        "1 new customer arrived.",
        "1 customer left the history.",
        "1 Loyal Customers became At-Risk (Lapsing) (33.3% of them).",
    ]
    assert [c["name"] for c in shown["columns"]] == [
        "At-Risk (Lapsing)",
        "Champions (VIPs)",
        "Loyal Customers",
        "Left",
    ]
    by_row = {row["name"]: row for row in shown["rows"]}
    assert list(by_row) == [
        "At-Risk (Lapsing)",
        "Champions (VIPs)",
        "Loyal Customers",
        "Not yet a customer",
    ]
    loyal = by_row["Loyal Customers"]
    assert loyal["customers"] == "3"
    assert [(c["customers"], c["probability"], c["stay"]) for c in loyal["cells"]] == [
        (1, "0.333333", False),
        (0, "0.000000", False),
        (2, "0.666667", True),
        (0, "0.000000", False),
    ]
    assert loyal["cells"][1]["count_text"] == "–" and loyal["cells"][1]["color"] == HEAT_STOPS[0]
    assert by_row["Champions (VIPs)"]["cells"][-1]["color"] == HEAT_STOPS[-1]


def test_heat_colours_run_light_to_dark_through_the_stops() -> None:
    assert [heat_color(i / 4) for i in range(5)] == list(HEAT_STOPS)
    # Half way from #f7f7f7 to #d1e5f0: each channel the rounded mean.
    assert heat_color(0.125) == "#e4eef4"
    assert heat_color(-1.0) == HEAT_STOPS[0] and heat_color(2.0) == HEAT_STOPS[-1]
    lightness = [sum(int(heat_color(p / 20)[i : i + 2], 16) for i in (1, 3, 5)) for p in range(21)]
    assert lightness == sorted(lightness, reverse=True)


# ------------------------------------------------------------------------------ in a browser

HISTORY_PROBE = """JSON.stringify({
    charts: Array.from(document.querySelectorAll('svg.chart')).map(svg => {
        const box = svg.getBoundingClientRect();
        return {id: svg.id, width: box.width, height: box.height,
                shapes: svg.querySelectorAll('rect, path, circle, line').length};
    }),
    heatCells: Array.from(document.querySelectorAll('#transition-matrix td.cell')).map(td => {
        const box = td.getBoundingClientRect();
        return {width: box.width, height: box.height,
                background: getComputedStyle(td).backgroundColor};
    }),
    atRiskRows: document.querySelectorAll('#at-risk-table tbody tr').length,
    height: document.documentElement.scrollHeight,
})"""


def test_the_history_sections_render_in_chromium(history: HistoryReport, tmp_path: Path) -> None:
    events, page, screenshot = open_in_chromium(history.report, tmp_path / "profile", HISTORY_PROBE)
    assert browser_problems(events) == []
    charts = {chart["id"]: chart for chart in page["charts"]}
    # A default run's 10 charts (tests/test_report.py's, without the k selection), shares over
    # time and PSI against the training data and against the previous date.
    assert len(charts) == 13, sorted(charts)
    for chart_id in ("chart-shares-over-time", "chart-psi-training", "chart-psi-previous"):
        assert charts[chart_id]["shapes"] > 0 and charts[chart_id]["width"] > 300, chart_id
    matrix = table(history.text, "transition-matrix")
    n_cells = sum(len([c for c in cells if "data-to-id" in c]) for _, cells in matrix)
    assert len(page["heatCells"]) == n_cells
    assert all(cell["width"] > 40 and cell["height"] > 20 for cell in page["heatCells"])
    assert page["atRiskRows"] == 10
    heat = re.findall(r'<td class="cell [^"]*" style="background:(#[0-9a-f]{6})"', history.text)
    assert len(heat) == n_cells
    assert [cell["background"] for cell in page["heatCells"]] == [rgb(c) for c in heat]
    pixels = decode_png(screenshot).astype(np.uint32)
    colours = set(np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2]).tolist())
    # Every heat colour is on screen, and so is the colour of a PSI past its threshold.
    assert {int(c[1:], 16) for c in heat} <= colours
    assert 0xD6604D in colours


def rgb(color: str) -> str:
    """A #rrggbb colour as the browser's computed style writes it."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"
