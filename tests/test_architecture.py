"""The package's shape: sub-packages by stage, imports in one direction, modules of one concern.

The import graph is read from the source (every ``import`` and ``from ... import`` of a
``custseg`` module, wherever it stands in the file, type-checking imports included), so a cycle
or an upward import fails here before it slows anyone down.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

PACKAGE_DIR = REPO_ROOT / "src" / "custseg"

#: What each part of the package may import, besides itself and the version. The stages run top
#: to bottom: ingest -> warehouses -> dbt -> features -> model -> publish -> report (monitoring,
#: the drift of the customers, reads the model beside publish), with pipeline, the Python API
#: and cli on top and the core (errors, sql, catalogue, settings)
#: below everything.
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "errors": set(),
    "sql": {"errors"},
    "catalogue": set(),
    "settings": {"errors", "catalogue"},
    "ingest": {"errors", "sql", "settings"},
    "config_file": {"errors", "settings", "ingest"},
    "warehouses": {"errors", "sql", "settings", "ingest"},
    "sample": {"catalogue", "settings"},
    "dbt": {"errors", "settings", "warehouses", "sample"},
    "model": {"errors", "catalogue", "settings"},
    "features": {"errors", "settings", "warehouses", "dbt", "model"},
    "publish": {"errors", "catalogue", "settings", "warehouses", "dbt", "model"},
    # The report shows the history: drift judged by the drift library's thresholds and alarms.
    "report": {"errors", "catalogue", "settings", "warehouses", "model", "publish", "monitoring"},
    # Segments over time, on plain arrays: the warehouse history is read by the layers above.
    "monitoring": {"errors", "catalogue", "settings", "model"},
    "history": {
        "errors",
        "catalogue",
        "settings",
        "ingest",
        "warehouses",
        "dbt",
        "features",
        "model",
        "publish",
        "run_identity",
        "monitoring",
    },
    # Live scoring: orders -> features (the dbt macro's Python twin) -> the published model.
    "live": {"errors", "catalogue", "model"},
    # The scoring service (custseg serve) and the stream consumer (custseg consume), over live.
    "serve": {"errors", "catalogue", "settings", "model", "live"},
    "stream": {"errors", "catalogue", "settings", "model", "live"},
    "progress": set(),
    "run_identity": {"settings", "ingest"},
    "run_result": {"catalogue", "ingest", "warehouses", "dbt"},
    "run_publish": {
        "errors",
        "catalogue",
        "settings",
        "ingest",
        "warehouses",
        "dbt",
        "features",
        "model",
        "publish",
        "report",
        "history",
        "run_identity",
        "run_result",
        "monitoring",
    },
    "refresh": {
        "errors",
        "settings",
        "ingest",
        "warehouses",
        "features",
        "model",
        "monitoring",
        "publish",
        "pipeline",
        "run_identity",
        "run_publish",
        "run_result",
    },
    "pipeline": {
        "run_publish",
        "errors",
        "catalogue",
        "settings",
        "ingest",
        "warehouses",
        "dbt",
        "features",
        "model",
        "publish",
        "report",
        "run_identity",
        "run_result",
        "history",
        "monitoring",
    },
    # The run as steps an orchestrator runs one at a time, over pipeline's locks and stages.
    # The model step's decision, on disk for the publish step.
    "candidate": {
        "errors",
        "settings",
        "features",
        "model",
        "publish",
        "refresh",
        "run_identity",
        "run_publish",
    },
    "steps": {
        "candidate",
        "refresh",
        "pipeline",
        "run_publish",
        "errors",
        "catalogue",
        "settings",
        "ingest",
        "warehouses",
        "dbt",
        "features",
        "model",
        "publish",
        "report",
        "run_identity",
        "run_result",
        "history",
        "monitoring",
    },
    # Orchestrators over the steps (Dagster, an optional extra).
    "orchestration": {
        "steps",
        "run_publish",
        "errors",
        "settings",
        "ingest",
        "warehouses",
        "dbt",
        "features",
    },
    "api": {
        "errors",
        "catalogue",
        "settings",
        "config_file",
        "model",
        "pipeline",
        "run_result",
        "sample",
        "publish",
    },
    "cli_options": {"settings"},
    "cli_errors": {"errors"},
    "cli_history": {"config_file", "pipeline", "progress", "history", "cli_options", "cli_errors"},
    "cli_sample": {"settings", "sample", "progress", "cli_options", "cli_errors"},
    "cli_monitoring": {
        "config_file",
        "progress",
        "refresh",
        "settings",
        "cli_options",
        "cli_errors",
    },
    "cli_serve": {"config_file", "settings", "live", "serve", "cli_options", "cli_errors"},
    "cli_stream": {
        "config_file",
        "settings",
        "progress",
        "live",
        "stream",
        "cli_options",
        "cli_errors",
    },
    "scaffold": {"errors", "settings", "config_file"},
    "cli": {
        "errors",
        "settings",
        "config_file",
        "pipeline",
        "progress",
        "run_result",
        "sample",
        "cli_options",
        "cli_errors",
        "cli_history",
        "cli_monitoring",
        "cli_sample",
        "cli_serve",
        "cli_stream",
        "scaffold",
    },
    # The package names the API (imported on first use, and by type checkers) and its errors.
    "__init__": {"api", "errors"},
}

#: Modules allowed past the size limit: one concern that reads better whole (each says why in
#: its docstring).
LONG_MODULES: set[str] = set()
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The custseg modules ``path`` imports (a ``from package import name`` counts as the
    submodule when ``name`` is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("custseg"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("custseg"):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def part_of(module: str) -> str:
    """The stage a module belongs to: ``custseg.model.segmenter`` -> ``model``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_known_part() -> None:
    unknown = sorted({part_of(name) for name in MODULES} - set(ALLOWED))
    assert not unknown, f"add {unknown} to ALLOWED with what they may import"


def test_there_is_no_import_cycle() -> None:
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_stages_only(module: str) -> None:
    part = part_of(module)
    # The version has a module of its own, which any module may name.
    allowed = ALLOWED[part] | {part, "version"}
    wrong = sorted(target for target in GRAPH[module] if part_of(target) not in allowed)
    assert not wrong, f"{module} ({part}) may not import {wrong}"


def test_the_warehouse_interface_imports_no_implementation() -> None:
    implementations = {name for name in MODULES if name.endswith("_warehouse")}
    assert implementations
    for interface in ("custseg.warehouses", "custseg.warehouses.base"):
        assert not GRAPH[interface] & implementations, interface


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_hold_one_concern(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    if module in LONG_MODULES:
        return
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it by concern"


def test_the_readme_architecture_names_every_part() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    parts = {part_of(name) for name in MODULES} - {"__init__", "errors", "sql", "progress"}
    missing = sorted(part for part in parts if f"`custseg.{part}`" not in section)
    assert not missing, f"README's Architecture section does not describe {missing}"
