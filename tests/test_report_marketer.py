"""What the report tells a marketer: currency, good and bad colours, actions, demographics.

The page is rendered from hand-made mart facts (two or ten segments whose every figure is
written below), so each test states the exact text or class the page must hold; the currency
is also checked on the real report of a published sample run, through the command line.
"""

from __future__ import annotations

import html
import html.parser
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from custseg.catalogue import SEGMENT_TYPES, color_of
from custseg.cli import cli
from custseg.report.data import MartFacts, SegmentFacts
from custseg.report.page import render_report, stylesheet
from custseg.report.text import Money
from custseg.report.verdicts import VERDICTS, verdict
from tests.support import CLEAN_ENV, PublishedSample

NBSP = "\u00a0"


def segment(
    sid: int, name: str, customers: int, recency: float, orders: float, revenue: float, aov: float
) -> SegmentFacts:
    """A segment whose customers each have these means (``revenue`` per customer)."""
    return SegmentFacts(sid, name, customers, revenue * customers, recency, orders, revenue, aov)


# Two segments, computed by hand:
#   Champions (VIPs): 10 customers, 10 days since the last purchase, 8 orders, 800 each, 100
#     per order -> revenue 8,000.
#   At-Risk (Lapsing): 30 customers, 300 days, 1.2 orders, 60 each, 50 per order -> 1,800.
#   All 40: revenue 9,800, recency (100 + 9,000) / 40 = 227.5 days, orders (80 + 36) / 40 =
#     2.9, revenue 245 each, order value (1,000 + 1,500) / 40 = 62.5.
CHAMPIONS = segment(3, "Champions (VIPs)", 10, 10.0, 8.0, 800.0, 100.0)
AT_RISK = segment(1, "At-Risk (Lapsing)", 30, 300.0, 1.2, 60.0, 50.0)
OVERALL = SegmentFacts(None, "All customers", 40, 9800.0, 227.5, 2.9, 245.0, 62.5)
ACTIVITY = {"activity_status": {3: {"Active": 10}, 1: {"Inactive": 30}}}
WITH_DEMOGRAPHICS = {
    "gender": {3: {"Female": 6, "Male": 4}, 1: {"Female": 10, "Male": 20}},
    "location": {3: {"Chicago": 10}, 1: {"Chicago": 5, "New York": 25}},
}
# An order log: no customer file, so dim_customer's gender and location are null (Unknown).
WITHOUT_DEMOGRAPHICS = {
    "gender": {3: {"Unknown": 10}, 1: {"Unknown": 30}},
    "location": {3: {"Unknown": 10}, 1: {"Unknown": 30}},
}
# The model's segments, with centres (in the log space's original units) unlike the means.
DOCUMENT = {
    "model": {
        "segments": [
            {
                "segment_id": sid,
                "segment_name": name,
                "centroid_original_units": {
                    "recency_days": 11.5,
                    "count_orders": 6.25,
                    "avg_order_value": 77.75,
                },
            }
            for sid, name in ((1, "At-Risk (Lapsing)"), (3, "Champions (VIPs)"))
        ]
    }
}


def facts(mixes: dict | None = None, segments: list[SegmentFacts] | None = None) -> MartFacts:
    segments = segments or [AT_RISK, CHAMPIONS]
    return MartFacts(
        segments=segments,
        overall=OVERALL,
        as_of_dates=("2020-01-01", "2020-01-01"),
        mixes={**ACTIVITY, **(WITH_DEMOGRAPHICS if mixes is None else mixes)},
        points=[(s.segment_id, s.mean_recency_days, s.mean_revenue) for s in segments],
    )


def page(currency: str | None = None, mixes: dict | None = None) -> str:
    return render_report(DOCUMENT, {}, facts(mixes), currency=currency)


class Cells(html.parser.HTMLParser):
    """Per table row (by its header text): the class and text of each data cell."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.row = table_id, False, ""
        self.rows: dict[str, list[tuple[str, str]]] = {}
        self.where = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table":
            self.inside = values.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.row, self.where = "", ""
        elif self.inside and tag == "th" and values.get("scope") == "row":
            self.where = "th"
        elif self.inside and tag == "td":
            self.where = "td"
            self.rows.setdefault(self.row, []).append((values.get("class") or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag in ("th", "td"):
            self.where = "" if self.where == tag else self.where

    def handle_data(self, data: str) -> None:
        if self.where == "th" and not self.row:
            self.row = data.strip()
            self.rows.setdefault(self.row, [])
        elif self.where == "td":
            css, text = self.rows[self.row][-1]
            self.rows[self.row][-1] = (css, text + data)


def cells(text: str, table_id: str) -> dict[str, list[tuple[str, str]]]:
    parser = Cells(table_id)
    parser.feed(text)
    return parser.rows


# ------------------------------------------------------------------------------- currency


def test_money_is_labelled_as_a_symbol_or_a_code() -> None:
    assert Money("$").amount(1234.4) == "$1,234"
    assert Money("EUR").amount(1234.4) == f"EUR{NBSP}1,234"
    assert Money("₹").compact(2_500_000) == "₹2.5M"
    assert Money("R$").amount(-5.5) == "-R$5.50"
    assert Money("kr").compact(-1500) == f"-kr{NBSP}1.5k"
    assert Money().amount(1234.4) == "1,234" and Money(None).compact(9.5) == "9.5"


def test_every_money_figure_carries_the_currency() -> None:
    text = page(currency="EUR")
    eur = f"EUR{NBSP}"
    table = cells(text, "segment-table")
    # Columns: customers, share, revenue, revenue share, revenue per customer, value index.
    assert [(row[2][1], row[4][1]) for row in table.values()] == [
        (f"{eur}1,800", f"{eur}60.00"),
        (f"{eur}8,000", f"{eur}800"),
        (f"{eur}9,800", f"{eur}245"),
    ]
    profile = cells(text, "profile-index")
    # Revenue and order value cells: the index, then the mean in money.
    assert [(row[2][1], row[3][1]) for row in profile.values()] == [
        (f"24{eur}60.00", f"80{eur}50.00"),
        (f"327{eur}800", f"160{eur}100"),
        (f"100{eur}245", f"100{eur}62.50"),
    ]
    assert f"Lifetime revenue</dt><dd>{eur}9.8k</dd>" in text
    # The revenue bars, the profile charts' reference lines and axes, the scatter's axis.
    assert f">{eur}8k · 81.6%</text>" in text
    assert f">all customers: {eur}245</text>" in text
    assert f">all customers: {eur}62.50</text>" in text
    assert f'text-anchor="end">{eur}100</text>' in text
    assert "lifetime revenue per customer (EUR)" in text
    # The naming table's segment means, and where the page says which currency it uses.
    assert f"mean order value {eur}100" in text
    assert "Amounts are in EUR." in text
    assert "<dt>Currency</dt><dd>EUR</dd>" in text
    assert json.loads(re.search(r'"currency": ("EUR")', text).group(1)) == "EUR"


def test_without_a_currency_amounts_are_plain_numbers() -> None:
    text = page()
    table = cells(text, "segment-table")
    assert [row[2][1] for row in table.values()] == ["1,800", "8,000", "9,800"]
    assert "Amounts are in" not in text
    assert "no label (set currency, e.g. --currency EUR)" in text


def test_report_cli_writes_the_currency_on_the_real_report(
    published_sample: PublishedSample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--currency, and CUSTSEG_CURRENCY, reach the report of a published run."""
    out = tmp_path / "report.html"
    args = ["report", "--project-dir", str(published_sample.root), "--out", str(out)]
    result = CliRunner(env=CLEAN_ENV).invoke(cli, [*args, "--currency", "$"])
    assert result.exit_code == 0, result.output
    flagged = out.read_text(encoding="utf-8")
    revenue = [row[2][1] for row in cells(flagged, "segment-table").values()]
    assert revenue and all(re.fullmatch(r"\$[\d,.]+", figure) for figure in revenue), revenue
    monkeypatch.setenv("CUSTSEG_CURRENCY", "$")
    from_env = CliRunner().invoke(cli, args)
    assert from_env.exit_code == 0, from_env.output
    assert out.read_text(encoding="utf-8") == flagged
    refused = CliRunner(env=CLEAN_ENV).invoke(cli, [*args, "--currency", "EUR 1"])
    assert refused.exit_code == 2
    assert "--currency: 'EUR 1' is not valid" in refused.output


# ------------------------------------------------------------------------------ good / bad


@pytest.mark.parametrize(
    ("value", "higher", "lower"),
    [
        (1.5, "good2", "bad2"),
        (1.49, "good1", "bad1"),
        (1.15, "good1", "bad1"),
        (1.14, "even", "even"),
        (0.87, "even", "even"),
        (0.86, "bad1", "good1"),
        (0.67, "bad1", "good1"),
        (0.66, "bad2", "good2"),
    ],
)
def test_the_bands_against_the_average(value: float, higher: str, lower: str) -> None:
    assert verdict(value, 1.0, higher_is_better=True).css == higher
    assert verdict(value, 1.0, higher_is_better=False).css == lower
    assert verdict(value, 0.0, higher_is_better=True).css == "even"


def test_a_short_recency_is_coloured_good_and_a_long_one_bad() -> None:
    profile = cells(page(), "profile-index")
    classes = {name: [css for css, _ in row] for name, row in profile.items()}
    # Columns: recency, orders, revenue, order value. Champions bought 10 days ago against
    # 227.5 (index 4): much better; At-Risk 300 days (index 132): worse. Orders 8 against 2.9:
    # much better; 1.2: much worse. Order value 50 against 62.5 (index 80): worse.
    assert classes == {
        "At-Risk (Lapsing)": ["bad1", "bad2", "bad2", "bad1"],
        "Champions (VIPs)": ["good2", "good2", "good2", "good2"],
        "All customers": ["even", "even", "even", "even"],
    }
    value_index = [row[-1] for row in cells(page(), "segment-table").values()]
    assert value_index == [("bad2", "0.24×"), ("good2", "3.27×"), ("", "1.00×")]


def test_the_legend_explains_the_colours_and_the_css_draws_them() -> None:
    text = html.unescape(page())
    assert text.count("Colours compare a figure with the average customer's: blue is better") == 2
    assert "for recency, fewer days since the last purchase" in text
    for v in VERDICTS:
        assert f'<span class="key" style="background:{v.color}"></span>{v.label}</li>' in text
        assert f".{v.css}{{background:{v.color}}}" in stylesheet()


# ------------------------------------------------------------------- segments and actions


def test_ten_segments_each_with_its_own_colour_name_and_action() -> None:
    """Nothing assumes five segments or ids 0-4: colours come from the catalogue by id."""
    ten = [
        segment(sid, f"Segment name {sid}", 4 + sid, 10.0 * (sid + 1), 1 + sid, 50.0, 20.0)
        for sid in range(10)
    ]
    text = render_report({}, {}, facts(segments=ten), currency="$")
    for rows in (cells(text, "segment-table"), cells(text, "profile-index")):
        assert list(rows) == [s.segment_name for s in ten] + ["All customers"]
    for s in ten:
        swatch = f'style="background:{color_of(s.segment_id)}"'
        # Segment table, profile table, scatter legend.
        assert text.count(f'{swatch} aria-hidden="true"></span>{s.segment_name}') == 2
        assert f'<span class="key" {swatch}></span>{s.segment_name}</li>' in text
        assert f'stroke="{color_of(s.segment_id)}"><title>' in text
    actions = re.findall(r'<span class="sub action">Action: (.*?)</span>', text)
    known = [SEGMENT_TYPES[s.segment_id].action for s in ten if s.segment_id in SEGMENT_TYPES]
    assert actions == [html.escape(action, quote=True) for action in known]


def test_the_naming_table_shows_the_means_of_the_profiles_not_the_centres() -> None:
    text = page(currency="$")
    assert "<td>mean recency 10 days<br>mean 8.0 orders<br>mean order value $100</td>" in text
    assert "<td>mean recency 300 days<br>mean 1.2 orders<br>mean order value $50.00</td>" in text
    assert "77.75" not in text and "6.25" not in text
    assert '<th scope="col">Segment means</th>' in text and ">Centre<" not in text


# -------------------------------------------------------------------------- demographics


def test_demographic_panels_are_shown_when_the_data_has_them() -> None:
    text = page(mixes=WITH_DEMOGRAPHICS)
    for column in ("gender", "location", "activity-status"):
        assert f'<figure id="mix-{column}">' in text and f'id="chart-mix-{column}"' in text
    assert "Gender and location from the customer file, and activity status" in text
    assert "left out" not in text


def test_demographic_panels_are_hidden_when_the_data_has_none() -> None:
    text = page(mixes=WITHOUT_DEMOGRAPHICS)
    for column in ("gender", "location"):
        assert f"mix-{column}" not in text
    assert '<figure id="mix-activity-status">' in text
    assert (
        "The data has no gender or location for any customer (no customer file was given), so "
        "those panels are left out." in text
    )
    assert "Unknown" not in text.split('id="mix-h"')[1].split("</section>")[0]


def test_only_the_missing_demographic_panel_is_hidden() -> None:
    mixes = {"gender": WITHOUT_DEMOGRAPHICS["gender"], "location": WITH_DEMOGRAPHICS["location"]}
    text = page(mixes=mixes)
    assert "mix-gender" not in text and '<figure id="mix-location">' in text
    assert "Location from the customer file, and activity status" in text
    assert "The data has no gender for any customer, so that panel is left out." in text
