"""`make docs`: dbt documentation built offline on a fresh clone, complete and self-contained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from custseg.catalogue import SEGMENT_NAMES
from custseg.dbt.docs import DOCS_BUILD_FOLDER, build_docs
from custseg.settings import ProjectLayout, header_line
from tests.support import REPO_ROOT, copy_project

DOCUMENTED_TYPES = ("model", "seed", "source", "analysis")
# What fct_customer_segments is built from: the documented revenue formula needs all four.
MART_SOURCES = {
    "source.custseg.marketing_insights.customers_data",
    "source.custseg.marketing_insights.online_sales",
    "source.custseg.marketing_insights.discount_coupon",
    "source.custseg.marketing_insights.tax_amount",
}

# What each layer of models/ may read, as dbt Labs lays a project out: staging the sources,
# intermediate models staging and each other (never a mart), marts and the models of the ML step
# anything built before them, and the history what a publication builds (the segments it
# publishes, or those of a backfill's dates) and itself.
LAYER_READS = {
    "staging": {"source"},
    "intermediate": {"staging", "intermediate"},
    "marts": {"staging", "intermediate", "marts", "ml", "seed"},
    "ml": {"intermediate", "marts", "ml", "seed"},
    "history": {"marts", "ml", "history", "seed"},
}
DEFINITIONS = "seed.custseg.segment_definitions"
#: Relations holding the segments of other models than the published one, by as-of date.
OTHER_MODELS_SEGMENTS = {
    "seed.custseg.backfill_model_parameters",
    "model.custseg.segment_scores_by_as_of_date",
    "model.custseg.segment_memberships",
    "model.custseg.fct_segment_drift",
    "model.custseg.fct_segment_mix_projection",
    "model.custseg.fct_at_risk_candidates",
}


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target/ folder of a docs build on a copy of the project as a fresh clone has it."""
    project = copy_project(tmp_path_factory.mktemp("docs") / "project")
    # A fresh clone has no published seeds: the build writes their header-only placeholders.
    seeds = ProjectLayout(project).published_seed_paths
    assert not any(path.exists() for path in seeds.values())
    index = build_docs(project)
    assert {name: path.read_bytes() for name, path in seeds.items()} == {
        name: header_line(name) for name in seeds
    }
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


def inlined_artifacts(page: str) -> tuple[dict, dict]:
    """The manifest and catalog the static page carries (its ``{manifest:..., catalog:...}``)."""
    decoder = json.JSONDecoder()
    manifest, end = decoder.raw_decode(page, page.index("manifest:{") + len("manifest:"))
    catalog, _ = decoder.raw_decode(page, page.index("catalog:{", end) + len("catalog:"))
    return manifest, catalog


def example_relation(node: dict) -> str:
    """The relation a seed's "Example SQL" or a source's "Sample SQL" selects from, written as
    the docs page writes it (dbt-docs' generateSourceSQL: database, schema and identifier, any
    missing one shown as "undefined")."""
    parts = [node.get("database"), node.get("schema"), node.get("identifier")]
    return ".".join("undefined" if part is None else str(part) for part in parts if part != "")


def test_the_docs_open_on_the_project_overview(docs: Path, manifest: dict) -> None:
    """The front page is our __overview__ docs block, not dbt's generic welcome text."""
    overview = manifest["docs"].get("doc.custseg.__overview__")
    assert overview, "no {% docs __overview__ %} block in dbt_pipeline/models/"
    text = overview["block_contents"]
    for heading in ("## Layers", "## The ML step", "## Where segment names come from"):
        assert heading in text
    for words in ("custseg run", "make docs", "segment_definitions", "custseg.catalogue"):
        assert words in text
    inlined, _ = inlined_artifacts((docs / "static_index.html").read_text(encoding="utf-8"))
    assert inlined["docs"]["doc.custseg.__overview__"]["block_contents"] == text


def test_no_example_in_the_docs_selects_from_undefined(docs: Path) -> None:
    """dbt's docs page writes a seed's Example SQL from an identifier seed nodes lack
    (dbt-labs/dbt-docs#407); the page `make docs` writes gives every seed its table's name."""
    manifest, catalog = inlined_artifacts((docs / "static_index.html").read_text("utf-8"))
    shown = {
        uid: node
        for uid, node in {**manifest["nodes"], **manifest["sources"]}.items()
        if node["resource_type"] in ("seed", "source")
    }
    assert {node["resource_type"] for node in shown.values()} == {"seed", "source"}
    built = {**catalog["nodes"], **catalog["sources"]}
    for uid, node in shown.items():
        relation = example_relation(node)
        assert "undefined" not in relation, uid
        table = built[uid]["metadata"]
        assert relation == f"{table['database']}.{table['schema']}.{table['name']}", uid
    text = json.dumps([manifest, catalog])
    assert "undefined" not in text
    # dbt's own manifest.json is left as dbt wrote it: seeds there carry no identifier.
    written = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    seeds = [n for n in written["nodes"].values() if n["resource_type"] == "seed"]
    assert seeds and all("identifier" not in n for n in seeds)
    assert example_relation(seeds[0]).endswith(".undefined")


def test_make_docs_uses_the_offline_builder() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "-m custseg.dbt.docs" in recipe


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def _layer(uid: str, manifest: dict) -> str:
    kind = uid.split(".", 1)[0]
    return manifest["nodes"][uid]["fqn"][1] if kind == "model" else kind


def test_each_layer_reads_only_what_is_built_before_it(manifest: dict) -> None:
    models = _models(manifest)
    assert {_layer(uid, manifest) for uid in models} == set(LAYER_READS)
    wrong = [
        f"{uid} ({_layer(uid, manifest)}) reads {parent}"
        for uid, node in models.items()
        for parent in node["depends_on"]["nodes"]
        if _layer(parent, manifest) not in LAYER_READS[_layer(uid, manifest)]
    ]
    assert not wrong, wrong
    # Revenue is priced once, in an intermediate view, for the sales mart and the orders alike.
    priced = "model.custseg.int_sales_lines_priced"
    assert models[priced]["config"]["materialized"] == "view"
    assert {uid for uid, node in models.items() if priced in node["depends_on"]["nodes"]} == {
        "model.custseg.fct_sales",
        "model.custseg.int_sales_lines_aggregated_to_orders",
    }


def test_every_model_has_its_own_yml_and_the_ml_models_a_contract(manifest: dict) -> None:
    models = _models(manifest)
    for node in models.values():
        own_yml = "custseg://" + node["original_file_path"].removesuffix(".sql") + ".yml"
        assert node["patch_path"] == own_yml, node["unique_id"]
    contracted = {uid for uid, node in models.items() if node["config"]["contract"]["enforced"]}
    assert contracted == {uid for uid in models if _layer(uid, manifest) == "ml"}
    assert contracted == {
        "model.custseg.customer_features",
        "model.custseg.customer_segment_scores",
        "model.custseg.customer_features_by_as_of_date",
        "model.custseg.segment_scores_by_as_of_date",
    }
    for uid in contracted:
        untyped = [c for c, spec in models[uid]["columns"].items() if not spec.get("data_type")]
        assert not untyped, (uid, untyped)


def segment_id_in_range(generic: dict, column_name: str | None) -> bool:
    """The generic test keeps segment_id to a range: ``accepted_range`` on the column, or
    ``accepted_ranges`` (one test for several columns of a model) with a range for it."""
    if generic["name"] == "accepted_range":
        return column_name == "segment_id"
    ranges = generic["kwargs"].get("ranges", []) if generic["name"] == "accepted_ranges" else []
    return any(bound["column"] == "segment_id" for bound in ranges)


def test_segment_ids_and_names_are_tested_against_segment_definitions_only(
    manifest: dict,
) -> None:
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    # No test lists the catalogue's names or ids: they are data, published in the seed.
    listing = [
        t["unique_id"]
        for t in tests
        if t.get("test_metadata")
        and (
            any(name in repr(t["test_metadata"]["kwargs"]) for name in SEGMENT_NAMES.values())
            or (
                t["test_metadata"]["name"] == "accepted_values"
                and t["column_name"] in ("segment_id", "segment_name")
            )
        )
    ]
    assert not listing, listing
    # Every other relation holding segment ids is tested against the seed: ids alone (a
    # relationships test) and, where the name travels with the id, the pair. Those holding
    # other models' segments (the history's past dates, a backfill's models per date) cannot
    # be: the published definitions are the current model's. Their ids are kept to the
    # catalogue's range instead.
    checked: dict[str, set[str]] = {}
    ranged: set[str] = set()
    for t in tests:
        generic, tested = t.get("test_metadata"), t.get("attached_node")
        if generic and tested != DEFINITIONS and DEFINITIONS in t["depends_on"]["nodes"]:
            checked.setdefault(tested, set()).add(generic["name"])
        if generic and segment_id_in_range(generic, t["column_name"]):
            ranged.add(tested)
    holding = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed") and "segment_id" in node["columns"]
    } - {DEFINITIONS}
    assert set(checked) == holding - OTHER_MODELS_SEGMENTS
    assert ranged >= OTHER_MODELS_SEGMENTS
    assert all("relationships" in kinds for kinds in checked.values())
    assert {uid for uid, kinds in checked.items() if "relationships_combination" in kinds} == {
        "seed.custseg.customer_segments",
        "seed.custseg.segment_model_parameters",
        "model.custseg.fct_customer_segments",
    }
