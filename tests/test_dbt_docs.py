"""`make docs`: dbt documentation built offline on a fresh clone, complete and self-contained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from custseg.dbt.docs import DOCS_BUILD_FOLDER, build_docs
from tests.support import REPO_ROOT, copy_project

DOCUMENTED_TYPES = ("model", "seed", "source", "analysis")
# What fct_customer_segments is built from: the documented revenue formula needs all four.
MART_SOURCES = {
    "source.custseg.marketing_insights.customers_data",
    "source.custseg.marketing_insights.online_sales",
    "source.custseg.marketing_insights.discount_coupon",
    "source.custseg.marketing_insights.tax_amount",
}


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target/ folder of a docs build on a copy of the project as a fresh clone has it."""
    project = copy_project(tmp_path_factory.mktemp("docs") / "project")
    # A fresh clone's seeds are header-only: no run has published anything yet.
    for seed in (project / "dbt_pipeline" / "seeds").glob("*.csv"):
        header = seed.read_text().splitlines()[0]
        seed.write_text(header + "\n")
    index = build_docs(project)
    assert index == project / "dbt_pipeline" / "target" / "static_index.html"
    # The throwaway warehouse lives under target/; the default warehouse file is never created.
    assert not list((project / "dbt_pipeline").glob("*.duckdb"))
    assert (project / "dbt_pipeline" / "target" / DOCS_BUILD_FOLDER / "docs.duckdb").is_file()
    return index.parent


@pytest.fixture(scope="module")
def manifest(docs: Path) -> dict:
    return json.loads((docs / "manifest.json").read_text())


@pytest.fixture(scope="module")
def catalog(docs: Path) -> dict:
    return json.loads((docs / "catalog.json").read_text())


def _documented_nodes(manifest: dict) -> dict[str, dict]:
    nodes = {**manifest["nodes"], **manifest["sources"]}
    return {uid: node for uid, node in nodes.items() if node["resource_type"] in DOCUMENTED_TYPES}


def test_every_model_seed_source_analysis_column_and_exposure_is_described(
    manifest: dict,
) -> None:
    nodes = _documented_nodes(manifest)
    assert {node["resource_type"] for node in nodes.values()} == set(DOCUMENTED_TYPES)
    missing = [uid for uid, node in nodes.items() if not node["description"].strip()]
    missing += [
        f"{uid}.{column}"
        for uid, node in nodes.items()
        for column, spec in node["columns"].items()
        if not spec["description"].strip()
    ]
    missing += [
        uid
        for uid, exposure in manifest["exposures"].items()
        if not exposure["description"].strip()
    ]
    assert not missing, f"no description: {missing}"


def test_every_column_in_the_warehouse_is_in_the_yml_and_the_other_way_round(
    manifest: dict, catalog: dict
) -> None:
    nodes = _documented_nodes(manifest)
    built = {**catalog["nodes"], **catalog["sources"]}
    # Every model, seed and source exists in the throwaway warehouse, so the check is complete.
    expected = {uid for uid, node in nodes.items() if node["resource_type"] != "analysis"}
    assert set(built) == expected
    problems = []
    for uid, relation in built.items():
        in_yml = {name.lower() for name in nodes[uid]["columns"]}
        in_warehouse = {name.lower() for name in relation["columns"]}
        problems += [f"{uid}.{c}: not in the yml" for c in sorted(in_warehouse - in_yml)]
        problems += [
            f"{uid}.{c}: in the yml, not in the table" for c in sorted(in_yml - in_warehouse)
        ]
    assert not problems, "\n".join(problems)


def test_lineage_reaches_the_mart_from_the_raw_sources(manifest: dict) -> None:
    nodes = {**manifest["nodes"], **manifest["sources"]}
    reached: set[str] = set()
    todo = ["model.custseg.fct_customer_segments"]
    while todo:
        uid = todo.pop()
        if uid not in reached:
            reached.add(uid)
            todo += nodes[uid].get("depends_on", {}).get("nodes", [])
    sources = {uid for uid in reached if uid.startswith("source.")}
    assert sources == MART_SOURCES
    # The path goes through the features the ML step reads and the published seed.
    assert {"model.custseg.customer_features", "seed.custseg.customer_segments"} <= reached


def test_exposures_cover_the_ml_step_report_notebook_and_analyses(manifest: dict) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    depends = {name: set(e["depends_on"]["nodes"]) for name, e in exposures.items()}
    assert depends["custseg_ml_step"] == {"model.custseg.customer_features"}
    assert depends["segment_report"] == {"model.custseg.fct_customer_segments"}
    assert exposures["segment_report"]["type"] == "dashboard"
    assert "custseg report" in exposures["segment_report"]["description"]
    assert exposures["customer_segmentation_notebook"]["type"] == "notebook"
    analyses = [n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "analysis"]
    assert analyses
    for analysis in analyses:
        covering = [
            e
            for e in exposures.values()
            if e["type"] == "analysis" and f"analyses/{analysis}.sql" in e["description"]
        ]
        assert covering, f"no exposure describes analyses/{analysis}.sql"
        assert all(
            "model.custseg.fct_customer_segments" in e["depends_on"]["nodes"] for e in covering
        )


def test_static_index_is_self_contained(docs: Path) -> None:
    html = (docs / "static_index.html").read_text(encoding="utf-8")
    assert len(html) > 100_000
    # The manifest and catalog are inlined, so the page renders from file:// with no server.
    assert "fct_customer_segments" in html and "segment_report" in html
    remote = r"""["']?\s*(?:https?:)?//"""
    scripts = re.findall(r"<script\b[^>]*\bsrc\s*=\s*" + remote + r"[^>]*>", html, re.IGNORECASE)
    links = re.findall(r"<link\b[^>]*\bhref\s*=\s*" + remote + r"[^>]*>", html, re.IGNORECASE)
    imports = re.findall(r"@import\s+(?:url\()?" + remote, html, re.IGNORECASE)
    assert not (scripts or links or imports), scripts + links + imports


def test_make_docs_uses_the_offline_builder() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "-m custseg.dbt.docs" in recipe
