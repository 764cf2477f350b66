"""A self-contained HTML report of the published segments: one file that works offline.

:func:`build_report` reads the ``fct_customer_segments`` mart (:mod:`custseg.report.data`),
turns it, the published model's document, its quality metrics and optionally the evidence for
choosing k into a template context (:mod:`~custseg.report.sections`,
:mod:`~custseg.report.model_card`) and renders ``templates/report.html.j2`` with Jinja2.
Everything is inline: the CSS (``templates/report.css``), the summary data (a JSON block) and
the charts (SVG). There is no JavaScript, no font, image or stylesheet to fetch, and a
Content-Security-Policy forbids the page any network access, so it renders the same from
``file://``, an e-mail attachment or an air-gapped laptop. The page holds no timestamp but the
model's as-of date: the same inputs give the same bytes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.ext import Extension
from markupsafe import Markup

from custseg.catalogue import MAX_AUTO_SEGMENTS, MIN_SEGMENTS
from custseg.monitoring.drift_report import DriftThresholds
from custseg.publish.atomic import write_bytes_atomic
from custseg.report import drift_section, history_sections, model_card, sections
from custseg.report.data import MART, MAX_SCATTER_POINTS, MartFacts, ReportError, read_mart
from custseg.report.history_data import NO_HISTORY, HistoryFacts, read_history
from custseg.report.text import Money, escape
from custseg.settings import DEFAULTS, METRICS_FILE, MODEL_FILE
from custseg.warehouses import Warehouse

__all__ = ["build_report", "render_report"]

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
# The template's tags; a line break inside one is a space, between them it is nothing.
_TAG = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.S)
_LINE_BREAK = re.compile(r"\n[ \t]*")


class NoLineBreaks(Extension):
    """Drop the template source's own line breaks and the indentation that follows them.

    The page is written one line per section, which reads badly as template source. With this
    extension the template is laid out freely: its line breaks never reach the page, and a line
    break the page needs is written as ``{{ "\\n" }}``. Text that must keep a space where the
    source breaks a line keeps it on one line.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        parts = _TAG.split(source)
        # split() puts the tags at odd positions: Jinja2 syntax, where a break separates words.
        return "".join(_LINE_BREAK.sub(" " if i % 2 else "", part) for i, part in enumerate(parts))


def _escaped(value: object) -> object:
    """Escape what a template prints, as the charts' text is escaped (``html.escape``).

    Autoescape would escape it anyway, with markupsafe; markupsafe writes quotes as ``&#34;``
    and ``&#39;`` where ``html.escape`` writes ``&quot;`` and ``&#x27;``, and the reports
    custseg wrote before the template existed used the latter. Doing it here keeps those bytes.
    Markup (charts, macro output) passes as it is.
    """
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(value))


@functools.cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: templates from the package, autoescape on."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("custseg.report", "templates"),
        autoescape=True,
        finalize=_escaped,
        undefined=jinja2.StrictUndefined,
        extensions=[NoLineBreaks],
        auto_reload=False,
    )


@functools.cache
def stylesheet() -> Markup:
    """The page's CSS (a package file), to inline in its ``<style>`` element."""
    css = resources.files("custseg.report").joinpath("templates", STYLESHEET)
    text = css.read_text(encoding="utf-8")
    # It is our own file, but a closing tag in it would end the style element early.
    if "</" in text:
        raise ValueError(f"{STYLESHEET} must not contain '</'")
    return Markup(text)


def build_report(
    document: dict,
    metrics: Mapping,
    warehouse: Warehouse,
    out_path: Path,
    k_selection: Mapping | None = None,
    *,
    model_file: str = MODEL_FILE,
    currency: str | None = None,
    drift_thresholds: DriftThresholds | None = None,
) -> Path:
    """Write the HTML report of the published segments and return its path.

    Parameters
    ----------
    document : dict
        The published model file's document (``custseg.model.model_file``).
    metrics : mapping
        Its ``evaluation_metrics.json``.
    warehouse : Warehouse
        An open warehouse holding the ``fct_customer_segments`` mart built from that model.
    out_path : Path
        The HTML file to write (atomically; its folder is created when missing).
    k_selection : mapping, optional
        ``k_selection.json`` of ``custseg evaluate`` or ``custseg run --k auto``; the report
        shows the evidence for choosing k when it judged the model's data (same dataset and
        input fingerprint), else says why it does not.
    model_file : str
        The model file's name, shown on the page.
    currency : str, optional
        The label of every money figure (setting ``currency``: "EUR", "$"); None: no label.
    drift_thresholds : DriftThresholds, optional
        What the drift section judges the latest as-of date by (the ``drift_*`` settings);
        None: the settings' defaults.

    Raises
    ------
    ReportError
        When the mart cannot be read (not built yet) or is empty, or the metrics were written
        by another run than the model.
    """
    out_path = Path(out_path)
    page = report_page(
        document,
        metrics,
        warehouse,
        k_selection,
        model_file=model_file,
        currency=currency,
        drift_thresholds=drift_thresholds,
    )
    write_bytes_atomic(out_path, page)
    return out_path


def report_page(
    document: dict,
    metrics: Mapping,
    warehouse: Warehouse,
    k_selection: Mapping | None = None,
    *,
    model_file: str = MODEL_FILE,
    currency: str | None = None,
    drift_thresholds: DriftThresholds | None = None,
) -> bytes:
    """The report of :func:`build_report` as bytes, for a publication to stage.

    The history sections read the warehouse's history models; one that is missing (an older
    warehouse) or empty is left out with a sentence saying what fills it.

    Raises
    ------
    ReportError
        When the mart cannot be read (not built yet) or is empty, or the metrics were written
        by another run than the model.
    """
    check_same_run(document, metrics)
    random_state = int(model_random_state(document))
    # A dozen small reads: one connection for all of them (Warehouse.reads).
    with warehouse.reads():
        facts = read_mart(warehouse, max_points=MAX_SCATTER_POINTS, random_state=random_state)
        history = read_history(warehouse)
    page = render_report(
        document,
        metrics,
        facts,
        k_selection,
        model_file=model_file,
        currency=currency,
        history=history,
        drift_thresholds=drift_thresholds,
    )
    return page.encode()


def check_same_run(document: Mapping, metrics: Mapping) -> None:
    """Refuse metrics another run wrote than the model's (a run publishes both at once, so
    this means files were copied or edited by hand)."""
    model_run = document.get("metadata", {}).get("run_id")
    metrics_run = metrics.get("run_id")
    if model_run is not None and metrics_run != model_run:
        raise ReportError(
            f"{METRICS_FILE} was written by run {metrics_run or 'not recorded'}, the model by "
            f"run {model_run}: the report would mix two runs. Run `custseg run` again to "
            "publish a consistent set."
        )


def render_report(
    document: dict,
    metrics: Mapping,
    facts: MartFacts,
    k_selection: Mapping | None = None,
    *,
    model_file: str = MODEL_FILE,
    currency: str | None = None,
    history: HistoryFacts = NO_HISTORY,
    drift_thresholds: DriftThresholds | None = None,
) -> str:
    """The whole HTML page (a pure function of its inputs); ``history`` defaults to a
    warehouse without one, ``drift_thresholds`` to the settings' defaults."""
    money = Money(currency)
    thresholds = drift_thresholds or DriftThresholds.from_settings(DEFAULTS)
    metadata = document.get("metadata", {})
    model = document.get("model", {})
    published_k = int((metadata.get("config") or {}).get("n_segments", len(facts.segments)))
    withheld = model_card.k_selection_withheld(k_selection, metadata)
    if withheld is not None:
        k_selection = None
    context = {
        "version": document.get("custseg_version", ""),
        "css": stylesheet(),
        "mart": MART,
        "model_file": model_file,
        "masthead": sections.masthead(document, metrics, facts, money),
        "warnings": sections.warnings(document, facts),
        "overview": sections.overview(facts, model, money),
        "profiles": sections.profiles(facts, money),
        "verdict_legend": sections.verdict_legend(),
        "scatter": sections.scatter(facts, random_state=model_random_state(document), money=money),
        "mixes": sections.mixes(facts),
        "k_range": f"{MIN_SEGMENTS} to {MAX_AUTO_SEGMENTS}",
        "k_evidence": model_card.k_evidence(
            k_selection, published_k=published_k, metadata=metadata
        ),
        "k_withheld": withheld,
        "model_card": model_card.model_card(
            document, metrics, model_file=model_file, facts=facts, money=money
        ),
        "shares_over_time": history_sections.shares_over_time(history),
        "transitions": history_sections.transitions(history),
        "at_risk": history_sections.at_risk(history, money),
        "drift": drift_section.drift(history, thresholds),
        "currency": currency,
        "data_json": data_json(
            document, metrics, facts, k_selection, currency, history=history, thresholds=thresholds
        ),
    }
    return environment().get_template(TEMPLATE).render(context)


def data_json(
    document: dict,
    metrics: Mapping,
    facts: MartFacts,
    k_selection: Mapping | None,
    currency: str | None = None,
    *,
    history: HistoryFacts = NO_HISTORY,
    thresholds: DriftThresholds | None = None,
) -> Markup:
    """The report's numbers as JSON, for scripts (the page embeds it as application/json)."""
    metadata = document.get("metadata", {})
    payload = {
        "run_id": metadata.get("run_id"),
        "dataset": metadata.get("dataset"),
        "as_of_date": metadata.get("as_of_date"),
        "currency": currency,
        "model_sha256": document.get("integrity", {}).get("sha256"),
        "segments": [_rounded(asdict(s)) for s in facts.segments],
        "overall": _rounded(asdict(facts.overall)),
        "mixes": {
            column: {str(sid): dict(sorted(counts.items())) for sid, counts in mix.items()}
            for column, mix in facts.mixes.items()
        },
        "scatter_points": len(facts.points),
        "metrics": {k: metrics.get(k) for k in ("silhouette", "davies_bouldin", "inertia", "k")},
        "chosen_k": None if k_selection is None else k_selection.get("chosen_k"),
        "history": history_json(history, thresholds or DriftThresholds.from_settings(DEFAULTS)),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, allow_nan=False)
    # Markup: JSON is not HTML text, and "<" escaped cannot end the script element early.
    return Markup(text.replace("<", "\\u003c"))


def history_json(history: HistoryFacts, thresholds: DriftThresholds) -> dict:
    """The history's numbers the page shows (None where a table was not read)."""
    counts: dict[str, dict[str, int]] = {}
    for c in history.counts or ():
        counts.setdefault(c.as_of_date, {})[str(c.segment_id)] = c.customers
    period = history.transitions
    return {
        "as_of_dates": list(history.as_of_dates),
        "customers_by_date_and_segment": None if history.counts is None else counts,
        "transitions": None
        if period is None
        else {
            "from_as_of_date": period.from_as_of_date,
            "to_as_of_date": period.to_as_of_date,
            "cells": [_rounded(asdict(cell)) for cell in period.cells],
        },
        "drift": None if history.drift is None else _rounded_tree(asdict(history.drift)),
        "drift_thresholds": asdict(thresholds),
        "at_risk": None if history.at_risk is None else _rounded_tree(asdict(history.at_risk)),
        "unavailable": dict(sorted(history.unavailable.items())),
    }


def _rounded_tree(value: object) -> object:
    """:func:`_rounded` through nested dicts, lists and tuples (tuples become lists)."""
    if isinstance(value, dict):
        return {k: _rounded_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded_tree(v) for v in value]
    return round(value, 6) if isinstance(value, float) else value


def _rounded(values: dict) -> dict:
    # Six decimals: the sums and means are exact (see custseg.report.data), so this only keeps
    # the JSON short.
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


def model_random_state(document: dict) -> int:
    """The seed the published model was fitted with (the default for a document without one)."""
    return int(
        document.get("model", {}).get("params", {}).get("random_state", DEFAULTS.random_state)
    )
