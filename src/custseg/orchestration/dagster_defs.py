"""Dagster definitions of a custseg project: assets from the raw tables to the history.

:func:`build_definitions` returns a :class:`dagster.Definitions` with one asset graph, a job over
all of it and a daily schedule. The assets run the steps of :mod:`custseg.steps`:

- ``raw_tables`` (one asset per table of the dbt source ``marketing_insights``): the load step;
- the dbt models up to ``customer_features``, and ``fct_sales``, as dbt assets (``dagster-dbt``
  over the project's manifest, parsed first), their dbt tests as asset checks;
- ``segment_model``: the model step (a candidate, nothing published). By default it decides
  as ``custseg refresh`` does (the ``refresh`` policy): nothing new when this as-of date is
  already published on the same data; else the published model scores the customers, unless
  the data drifted past the thresholds and a model retrained on them is not worse. With
  ``policy="retrain"`` it fits a new model on every materialization, as ``custseg run``;
- ``published_segments``: the publish step, one multi-asset over the published seeds, the mart
  ``fct_customer_segments`` and every model downstream of them and of the history's
  ``segment_runs`` (``segment_memberships``, ``fct_segment_transitions``,
  ``fct_segment_mix_projection``, ...). These are built inside custseg's atomic publication,
  not by separate dbt asset runs, so a failure never leaves a mix of the previous
  publication and the new one: they materialize together or not at all. When the model step
  found nothing new they are skipped (not materialized), so the schedule may rerun freely.

Every asset holds custseg's run locks while it runs and first repairs a publication a killed
run left half done, so a ``custseg run`` from a shell and a scheduled materialization never
interleave. The dbt assets run dbt as a subprocess (``DbtCliResource``) with the project's
profiles folder and target and the environment custseg's own dbt invocations set.

Importing this module needs the extra: ``pip install 'custseg[dagster]'``.
"""

# No `from __future__ import annotations` here: Dagster reads the annotations of the asset
# functions (the context, the dbt resource) as types, not as strings.
import graphlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import dagster as dg
    from dagster import AssetExecutionContext
    from dagster_dbt import (
        DagsterDbtTranslator,
        DagsterDbtTranslatorSettings,
        DbtCliResource,
        dbt_assets,
        get_asset_keys_by_output_name_for_source,
    )
except ImportError as error:  # tests/test_dagster.py hides dagster to check the message
    raise ImportError(
        f"custseg's Dagster definitions need Dagster and dagster-dbt ({error}). Install them "
        "with: pip install 'custseg[dagster]'"
    ) from error

from custseg.dbt.placeholders import ensure_seed_placeholders
from custseg.dbt.runner import environment_overrides, invocation_for, run_dbt
from custseg.errors import ConfigError
from custseg.features import FEATURES_MODEL, SALES_MART
from custseg.ingest.mapping import InputSpec
from custseg.run_publish import publication_selectors
from custseg.settings import Settings
from custseg.steps import (
    ModelPolicy,
    load_step,
    locked,
    model_step,
    publish_step,
    require_known_policy,
)
from custseg.warehouses import open_warehouse

#: The dbt source of the raw tables the load step replaces.
RAW_SOURCE = "marketing_insights"
#: Where build_definitions has dbt write the manifest, inside the dbt project's target/ (apart
#: from the runs' own target/, which a run may be rewriting meanwhile).
MANIFEST_FOLDER = Path("target") / "dagster"
#: Where the dbt assets' builds write their artifacts, one folder for every materialization
#: (dagster-dbt would make a new one each time: ~5 MB a day for a daily schedule, and a full
#: parse every time). The run locks make the builds take turns, so they can share it.
FEATURE_BUILD_FOLDER = Path("target") / "dagster_feature_models"
#: Every day at 06:00 (the schedule's timezone: Dagster's default, UTC).
DEFAULT_CRON = "0 6 * * *"
JOB_NAME = "custseg_run"
SCHEDULE_NAME = "custseg_daily"
GROUP = "custseg"
#: dbt resource types that are assets (tests are checks; analyses and exposures are neither).
_ASSET_NODE_TYPES = ("model", "seed", "snapshot")


def build_definitions(
    settings: Settings,
    inputs: Sequence[InputSpec] = (),
    *,
    cron: str = DEFAULT_CRON,
    timezone: str | None = None,
    policy: ModelPolicy = "refresh",
) -> dg.Definitions:
    """The assets of the project of ``settings``, a job over all of them and its schedule.

    Parameters
    ----------
    settings
        The run's settings (``custseg.settings.resolve_settings``, or
        ``custseg.config_file.settings_from`` for a ``custseg.toml``); ``data_dir`` is where
        each materialization loads the raw files from.
    inputs
        The ``[inputs]`` mapping of the files, when they are not in the usual layout.
    cron, timezone
        When the schedule starts the job (a cron string; an IANA timezone, default UTC). The
        schedule is created stopped, as Dagster's are: start it in the UI or with
        ``dagster schedule start``.
    policy
        How the model step decides what to publish (:func:`custseg.steps.model_step`):
        ``refresh`` (as ``custseg refresh``, with its drift thresholds from ``settings``) or
        ``retrain`` (a new model every time, as ``custseg run``).

    Raises
    ------
    ConfigError
        No data folder in ``settings``, or an unknown ``policy``.
    DbtError
        dbt cannot parse the project.
    """
    if settings.data_dir is None:
        raise ConfigError(
            "No data folder: the Dagster assets load the raw files from settings.data_dir "
            "(data_dir in custseg.toml's [run], or CUSTSEG_DATA_DIR)."
        )
    require_known_policy(policy)
    manifest = json.loads(parse_manifest(settings).read_text(encoding="utf-8"))
    # The source tests (the raw tables' keys, not-null) become checks of the raw tables.
    translator = DagsterDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    )
    feature_models = feature_assets(settings, manifest, translator)
    features_key = _key(translator, manifest, _unique_id(manifest, FEATURES_MODEL))
    model_asset = segment_model_asset(settings, inputs, features_key, policy)
    assets = [
        raw_tables_asset(settings, inputs, feature_models),
        feature_models,
        model_asset,
        published_segments_asset(settings, manifest, translator, model_asset.key),
    ]
    job = dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.all())
    schedule = dg.ScheduleDefinition(
        name=SCHEDULE_NAME, job=job, cron_schedule=cron, execution_timezone=timezone
    )
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        schedules=[schedule],
        resources={"dbt": dbt_resource(settings)},
    )


def parse_manifest(settings: Settings) -> Path:
    """``dbt parse`` the project (in-process, as custseg runs dbt) and return its manifest."""
    target_path = settings.dbt_project_dir / MANIFEST_FOLDER
    with open_warehouse(settings) as warehouse:
        run_dbt(invocation_for(settings, warehouse), "parse", "--target-path", str(target_path))
    return target_path / "manifest.json"


def dbt_resource(settings: Settings) -> DbtCliResource:
    """dbt as a subprocess on the project, with its profiles folder and target; the ``dbt`` of
    this Python environment (a Dagster process need not have it on PATH)."""
    beside = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=str(settings.dbt_project_dir),
        profiles_dir=str(settings.profiles_dir or settings.dbt_project_dir),
        target=settings.target,
        dbt_executable=str(beside) if beside.is_file() else "dbt",
    )


# ------------------------------------------------------------------------------ the assets


def raw_tables_asset(
    settings: Settings, inputs: Sequence[InputSpec], feature_models: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    """The raw tables, one asset each under the dbt source's keys: the load step."""
    keys = get_asset_keys_by_output_name_for_source([feature_models], RAW_SOURCE)
    by_table = {key.path[-1]: key for key in keys.values()}

    @dg.multi_asset(
        name="raw_tables",
        group_name=GROUP,
        specs=[
            dg.AssetSpec(key, description=f"The raw table {table}, loaded from the data folder.")
            for table, key in sorted(by_table.items())
        ],
    )
    def raw_tables(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        for table in load_step(settings, inputs, progress=context.log.info):
            if table.table_name in by_table:
                yield dg.MaterializeResult(
                    asset_key=by_table[table.table_name],
                    metadata={
                        "rows": table.row_count,
                        "file": str(table.source_path) if table.source_path else "not given",
                    },
                )

    return raw_tables


def feature_assets(
    settings: Settings, manifest: Mapping[str, Any], translator: DagsterDbtTranslator
) -> dg.AssetsDefinition:
    """The dbt models up to ``customer_features``, and ``fct_sales``, as dbt assets."""

    @dbt_assets(
        manifest=manifest,
        select=f"+{FEATURES_MODEL} {SALES_MART}",
        name="feature_models",
        dagster_dbt_translator=translator,
    )
    def feature_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        ensure_seed_placeholders(settings.dbt_project_dir)
        with locked(settings, context.log.info) as warehouse:
            invocation = invocation_for(settings, warehouse)
            args = ["build", "--vars", json.dumps(dict(invocation.vars or {}), sort_keys=True)]
            # The subprocess takes its environment from this process when it starts. Tests
            # that also read a model outside these assets (the published seeds, dim_product)
            # wait for the build of that model, as custseg's own features build leaves them.
            env = {**(invocation.env or {}), "DBT_INDIRECT_SELECTION": "cautious"}
            with environment_overrides(env):
                running = dbt.cli(
                    args,
                    context=context,
                    target_path=settings.dbt_project_dir / FEATURE_BUILD_FOLDER,
                )
            yield from running.stream()

    return feature_models


def segment_model_asset(
    settings: Settings,
    inputs: Sequence[InputSpec],
    features_key: dg.AssetKey,
    policy: ModelPolicy,
) -> dg.AssetsDefinition:
    """What to publish from ``customer_features``, decided by the model step with ``policy``."""

    @dg.asset(
        name="segment_model",
        group_name=GROUP,
        deps=[features_key],
        description=(
            f"The segment model to publish from customer_features ({policy} policy), left as a "
            "candidate under ml_pipeline/models/candidate/ for published_segments (nothing "
            "published). Its metadata says what was decided and why."
        ),
    )
    def segment_model(context: AssetExecutionContext) -> dg.MaterializeResult:
        candidate = model_step(settings, inputs, progress=context.log.info, policy=policy)
        for warning in candidate.warnings:
            context.log.warning(warning)
        return dg.MaterializeResult(
            metadata={
                "action": candidate.action,
                "reasons": "; ".join(candidate.reasons),
                "run_id": candidate.run_id,
                "dataset": candidate.dataset,
                "as_of_date": candidate.as_of_date.isoformat(),
                "segments": candidate.n_segments,
                "input_fingerprint": candidate.input_fingerprint,
                "candidate": str(candidate.model_path),
            }
        )

    return segment_model


def published_segments_asset(
    settings: Settings,
    manifest: Mapping[str, Any],
    translator: DagsterDbtTranslator,
    model_key: dg.AssetKey,
) -> dg.AssetsDefinition:
    """The published seeds, the mart and the history, built as one publication: the publish
    step. The specs are the dbt nodes the publication builds, read from the manifest; each
    depends on its parents among them and among the feature models, and the seeds on the
    model."""
    published = published_nodes(manifest, publication_selectors(settings))
    built_before = feature_nodes(manifest)
    # Parents first: Dagster takes a multi-asset's materializations in the graph's order.
    order = graphlib.TopologicalSorter(
        {
            unique_id: sorted(set(manifest["parent_map"].get(unique_id, [])) & published)
            for unique_id in sorted(published)
        }
    ).static_order()
    specs = []
    for unique_id in order:
        parents = manifest["parent_map"].get(unique_id, [])
        deps = [
            _key(translator, manifest, parent)
            for parent in parents
            if parent in published or parent in built_before
        ]
        if unique_id.startswith("seed."):
            deps.append(model_key)
        node = manifest["nodes"][unique_id]
        specs.append(
            dg.AssetSpec(
                _key(translator, manifest, unique_id),
                deps=deps,
                description=node.get("description") or None,
                kinds={"dbt", "csv"} if unique_id.startswith("seed.") else {"dbt"},
                # Not materialized when the model step found nothing new to publish.
                skippable=True,
            )
        )

    @dg.multi_asset(
        name="published_segments",
        group_name=GROUP,
        specs=specs,
        description=(
            "The published seeds, fct_customer_segments and the history, built by custseg's "
            "atomic publication: all of them are the new ones or all the previous ones."
        ),
    )
    def published_segments(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        result = publish_step(settings, progress=context.log.info)
        if result is None:
            return
        for warning in result.warnings:
            context.log.warning(warning)
        metadata = {
            "run_id": result.run_id,
            "as_of_date": result.as_of_date.isoformat() if result.as_of_date else None,
            "customers": result.n_customers,
            "segments": result.n_segments,
        }
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key, metadata=metadata)

    return published_segments


# ------------------------------------------------------------------------------ the manifest


def published_nodes(manifest: Mapping[str, Any], selectors: Sequence[str]) -> set[str]:
    """The models and seeds a publication's ``dbt build --select`` of ``selectors`` builds
    (``name`` or ``name+``: the node, or the node and everything downstream of it)."""
    found: set[str] = set()
    for selector in selectors:
        pending = [_unique_id(manifest, selector.removesuffix("+"))]
        while pending:
            unique_id = pending.pop()
            if unique_id in found or not unique_id.startswith(_ASSET_NODE_TYPES):
                continue
            found.add(unique_id)
            if selector.endswith("+"):
                pending.extend(manifest["child_map"].get(unique_id, []))
    return found


def feature_nodes(manifest: Mapping[str, Any]) -> set[str]:
    """``customer_features`` and ``fct_sales`` and every node they are built from, as the
    features step's ``dbt build --select +customer_features fct_sales`` builds them."""
    found: set[str] = set()
    pending = [_unique_id(manifest, FEATURES_MODEL), _unique_id(manifest, SALES_MART)]
    while pending:
        unique_id = pending.pop()
        if unique_id not in found:
            found.add(unique_id)
            pending.extend(manifest["parent_map"].get(unique_id, []))
    return found


def _unique_id(manifest: Mapping[str, Any], name: str) -> str:
    """The unique id of the model or seed ``name`` of the manifest."""
    for unique_id, node in manifest["nodes"].items():
        if node["name"] == name and unique_id.startswith(_ASSET_NODE_TYPES):
            return unique_id
    raise ConfigError(f"The dbt project has no model or seed {name!r}: is it custseg's?")


def _key(translator: DagsterDbtTranslator, manifest: Mapping[str, Any], unique_id: str) -> Any:
    """The asset key dagster-dbt gives the dbt node ``unique_id``."""
    node = manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]
    return translator.get_asset_key(node)
