"""The HTML report: built from a real run on generated data, checked as text and in Chromium.

The browser half drives headless Chromium over the DevTools protocol on a pipe (file
descriptors 3 and 4, ``--remote-debugging-pipe``), so it needs no websocket client: it fails
on any console error, exception or network request, checks that every chart was laid out with
shapes in it, and decodes a screenshot to check that the page is not blank and shows the
segment colours.
"""

from __future__ import annotations

import base64
import contextlib
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

from custseg.catalogue import SEGMENT_NAMES, color_of
from custseg.cli import cli
from custseg.model.model_file import load_model
from custseg.pipeline import report_pipeline, run_pipeline
from custseg.report import MAX_SCATTER_POINTS, ReportError, build_report, read_json
from custseg.report.page import sample_points
from custseg.sample import generate_sample_data
from custseg.settings import REPORT_FILE, resolve_settings
from custseg.warehouses import open_warehouse
from tests.support import copy_project

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Charts every report has: 2 size/revenue, 4 profiles, 1 scatter, 3 mixes, 1 k selection.
EXPECTED_CHARTS = 11


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


def test_embedded_data_matches_the_mart(published: Published) -> None:
    match = re.search(
        r'<script type="application/json" id="custseg-report-data">(.*?)</script>',
        published.text,
        re.S,
    )
    assert match
    data = json.loads(match.group(1))
    gender = mart_rows(
        published,
        "select segment_id, gender, count(*) from fct_customer_segments group by 1, 2",
    )
    assert {
        (int(sid), value): count
        for sid, mix in data["mixes"]["gender"].items()
        for value, count in mix.items()
    } == {(sid, value): count for sid, value, count in gender}
    (means,) = mart_rows(
        published,
        "select avg(recency_days), avg(count_orders), avg(lifetime_revenue), "
        "avg(avg_order_value) from fct_customer_segments",
    )
    overall = data["overall"]
    assert [
        overall["mean_recency_days"],
        overall["mean_orders"],
        overall["mean_revenue"],
        overall["mean_order_value"],
    ] == pytest.approx(list(means), rel=1e-9)
    assert data["chosen_k"] == len(data["segments"])


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


def test_scatter_sample_is_capped_and_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(0)
    rows = [(f"c{i:05d}", i % 5, float(i % 365), float(rng.uniform(1, 1e4))) for i in range(9000)]
    first = sample_points(rows, max_points=MAX_SCATTER_POINTS, random_state=42)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    assert len(first) == MAX_SCATTER_POINTS
    assert sample_points(shuffled, max_points=MAX_SCATTER_POINTS, random_state=42) == first
    assert len(sample_points(rows[:10], max_points=MAX_SCATTER_POINTS, random_state=42)) == 10


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
# In a real browser
# ------------------------------------------------------------------------------------------


def chromium_binary() -> str:
    """Path of Chromium; fails in CI (where it must be installed), skips elsewhere."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium not found: install it (Debian: apt-get install chromium) to test the report"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


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


@pytest.fixture(scope="module")
def rendered(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    binary = chromium_binary()
    browser = DevTools(binary, tmp_path_factory.mktemp("chromium-profile"))
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
        browser.send("Page.navigate", {"url": published.report.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        probe = """JSON.stringify({
            charts: Array.from(document.querySelectorAll('svg.chart')).map(svg => {
                const box = svg.getBoundingClientRect();
                return {id: svg.id, width: box.width, height: box.height,
                        shapes: svg.querySelectorAll('rect, path, circle, line').length};
            }),
            segmentRows: document.querySelectorAll('#segment-table tbody tr').length,
            height: document.documentElement.scrollHeight,
        })"""
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
    return Rendered(
        events=events,
        charts=page["charts"],
        segment_rows=page["segmentRows"],
        screenshot=base64.b64decode(shot["data"]),
    )


def test_browser_reports_no_error_and_no_network_request(rendered: Rendered) -> None:
    problems = []
    for event in rendered.events:
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
    assert problems == []


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
