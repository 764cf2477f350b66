"""The run as four steps that run on their own: load, features, model, publish.

``custseg run`` does the four in one process, holding the run locks once
(:func:`custseg.pipeline.run_pipeline`). An orchestrator (Dagster, see
:mod:`custseg.orchestration`; cron; Airflow) runs them one at a time instead, each maybe in its
own process, and retries a failed one alone. So every step takes the settings, holds the run
locks itself (:func:`custseg.pipeline.opened`) and first repairs a publication a killed run
left half done. What a step hands to the next stays where a run keeps it anyway:

- :func:`load_step` replaces the raw tables in the warehouse;
- :func:`features_step` builds ``customer_features`` (and ``fct_sales``) there with dbt;
- :func:`model_step` decides what to publish and writes it as a *candidate* under
  ``ml_pipeline/models/candidate/`` (:mod:`custseg.candidate`: the decision, what and why for
  which features; the model file as the publication will write it; the evidence for k when k
  was chosen automatically; the fit's messages). Nothing is published. Its policy says how it
  decides: ``retrain`` fits a new model as ``custseg run`` does; ``refresh`` decides as
  ``custseg refresh`` does (:func:`custseg.refresh.decide_refresh`: nothing new, the published
  model scoring today's customers, or a retrained model when the data drifted and it is not
  worse);
- :func:`publish_step` publishes the candidate as one unit (:func:`custseg.run_publish.
  publish_run`: seeds, mart, history, segments CSV, model, metrics, report), refusing it when
  the features changed since the model step, then removes it. A candidate that says there is
  nothing new publishes nothing.

The four steps in order publish the same files as one ``custseg run`` on the same data and
settings, byte for byte (the run id aside; ``tests/test_steps.py``), and with the ``refresh``
policy what one ``custseg refresh`` publishes (``tests/test_refresh.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from custseg.candidate import candidate_files, read_candidate, read_decision, write_candidate
from custseg.errors import ConfigError
from custseg.features import build_features, read_customer_features
from custseg.ingest.layout import LoadedTable
from custseg.ingest.mapping import InputSpec
from custseg.model.fitting import Progress, fit_segments, silent
from custseg.model.model_file import load_model, load_previous_model
from custseg.pipeline import published_dataset
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.session import opened, repair_interrupted_publication
from custseg.refresh import RefreshAction, RefreshDecision, decide_refresh
from custseg.run_identity import RunIdentity, run_identity
from custseg.run_publish import RunContext, publish_run, run_model_document
from custseg.run_result import RunResult, StageClock
from custseg.settings import Settings
from custseg.warehouses import Warehouse

#: How the model step decides what to publish: ``retrain`` fits a new model on every run (as
#: ``custseg run``), ``refresh`` applies ``custseg refresh``'s policy.
ModelPolicy = Literal["retrain", "refresh"]
MODEL_POLICIES: tuple[ModelPolicy, ...] = ("retrain", "refresh")


@dataclass(frozen=True)
class FeaturesSummary:
    """What the features step built: the as-of date, the customers and their fingerprint."""

    as_of_date: dt.date
    n_customers: int
    # custseg.model.model_file.fingerprint_features of the customers' features.
    input_fingerprint: str


@dataclass(frozen=True)
class CandidateModel:
    """What the model step decided and left for the publish step."""

    # The candidate's model file; absent when there is nothing new to publish.
    model_path: Path
    run_id: str
    dataset: str
    as_of_date: dt.date
    # Segments of the model to publish (0: nothing new).
    n_segments: int
    input_fingerprint: str
    # Changed definitions, unsupported names published anyway, a refused previous model.
    warnings: list[str]
    notes: list[str]
    # What will be published, in custseg refresh's words: ``retrained`` (a model fitted on
    # these features), ``first`` (the same, no model being published yet), ``scored`` or
    # ``kept`` (the published model scoring these customers), ``unchanged`` (nothing new).
    action: RefreshAction = "retrained"
    # One sentence per reason for the action.
    reasons: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ the steps


def load_step(
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> list[LoadedTable]:
    """Load the raw files of ``settings.data_dir`` into the warehouse's raw tables (checked,
    and swapped in as one unit) and return what was loaded.

    Raises
    ------
    ConfigError
        No data folder is set.
    """
    if settings.data_dir is None:
        raise ConfigError("No data folder: the load step needs settings.data_dir (--data-dir).")
    check_writable(settings, publishing=False)
    with locked(settings, progress) as warehouse:
        progress(f"Loading raw files from {settings.data_dir} into {warehouse.describe()}")
        return warehouse.load_raw(settings.data_dir, inputs, strict_amounts=settings.strict_amounts)


def features_step(settings: Settings, progress: Progress = silent) -> FeaturesSummary:
    """Build and test everything up to ``customer_features``, and ``fct_sales``, with dbt from
    the warehouse's raw tables (:func:`custseg.features.build_features`)."""
    check_writable(settings, publishing=False)
    require_built_warehouse(settings)
    with locked(settings, progress) as warehouse:
        progress("Building staging models and customer features with dbt")
        features = build_features(settings, warehouse)
    return FeaturesSummary(
        as_of_date=features.as_of_date,
        n_customers=len(features.customer_ids),
        input_fingerprint=features.fingerprint,
    )


def model_step(
    settings: Settings,
    inputs: Sequence[InputSpec] = (),
    progress: Progress = silent,
    *,
    policy: ModelPolicy = "retrain",
) -> CandidateModel:
    """Decide what to publish from the warehouse's features and write it as the candidate.

    With the ``retrain`` policy, a model is fitted as a run fits one: k from the settings or
    chosen automatically, the ids of the published model of the same dataset kept when the
    segments barely moved. With ``refresh``, the step decides as ``custseg refresh`` does
    (:func:`custseg.refresh.decide_refresh`); without a published model it fits as a first run.
    ``inputs`` (the input mapping) only names the dataset, as a run derives it. Nothing is
    published.

    Raises
    ------
    SegmentationError, InsufficientDataError
        As :func:`custseg.model.fitting.fit_segments`.
    ConfigError
        ``policy`` is not one of :data:`MODEL_POLICIES`.
    ModelIntegrityError
        With ``refresh``: the published model file is damaged or was edited.
    """
    require_known_policy(policy)
    check_writable(settings, publishing=False)
    require_built_warehouse(settings)
    fallback = None if settings.data_dir else published_dataset(settings)
    identity = run_identity(settings, inputs, fallback=fallback)
    candidate = candidate_files(settings)
    with locked(settings, progress) as warehouse:
        features = read_customer_features(warehouse)
        if policy == "refresh" and settings.layout.model_path.exists():
            published = load_model(settings.layout.model_path)
            decision = decide_refresh(settings, warehouse, features, published, progress)
            # As custseg refresh: a retrained model's warnings; none when the published model
            # is kept (its file is published again as it is) or nothing is new.
            retrained = decision.fitted if decision.document is None else None
            messages: tuple[list[str], list[str]] = (
                [] if retrained is None else list(retrained.warnings),
                [],
            )
        else:
            previous, model_warnings, notes = load_previous_model(
                settings.layout.model_path, identity.dataset
            )
            fitted = fit_segments(features.matrix, settings, previous, progress, features.rhythm)
            action: RefreshAction = "first" if policy == "refresh" else "retrained"
            reasons = (
                ["no model was published yet"]
                if action == "first"
                else ["the retrain policy fits a new model on every run"]
            )
            decision = RefreshDecision(action, reasons, fitted, None)
            messages = (model_warnings + fitted.warnings, notes)
        document = decision.document
        if document is None and decision.fitted is not None:
            document = run_model_document(settings, decision.fitted, features, identity)
        write_candidate(candidate, decision, document, features, identity, messages)
        if decision.fitted is None:
            progress(f"Nothing new to publish: {'; '.join(decision.reasons)}")
        else:
            progress(f"Candidate model written to {candidate.model_path}")
    return CandidateModel(
        model_path=candidate.model_path,
        run_id=identity.run_id,
        dataset=identity.dataset,
        as_of_date=features.as_of_date,
        n_segments=0 if decision.fitted is None else decision.fitted.n_segments,
        input_fingerprint=features.fingerprint,
        warnings=messages[0],
        notes=messages[1],
        action=decision.action,
        reasons=tuple(decision.reasons),
    )


def require_known_policy(policy: str) -> None:
    """Refuse a model policy that is not one of :data:`MODEL_POLICIES`.

    Raises
    ------
    ConfigError
        Naming the policies there are.
    """
    if policy not in MODEL_POLICIES:
        raise ConfigError(
            f"Unknown model policy {policy!r}: use one of {', '.join(MODEL_POLICIES)}."
        )


def publish_step(settings: Settings, progress: Progress = silent) -> RunResult | None:
    """Publish the candidate of the model step as one unit, then remove it.

    The model file published is the candidate's, byte for byte; the seeds, the mart, the
    history and the other outputs are what ``custseg run`` (or, for a candidate of the
    ``refresh`` policy, ``custseg refresh``) publishes for that model.

    Returns
    -------
    RunResult or None
        The publication; None when the candidate says there is nothing new to publish (the
        ``refresh`` policy's ``unchanged``): nothing is written then.

    Raises
    ------
    ConfigError
        There is no candidate, or it was decided on other features than the warehouse holds
        now (the features step ran again since): run the model step again.
    ModelIntegrityError
        The candidate's model file is damaged or was edited.
    """
    check_writable(settings)
    require_built_warehouse(settings)
    candidate = candidate_files(settings)
    with opened(settings) as warehouse:
        repaired = repair_interrupted_publication(settings, warehouse, progress)
        features = read_customer_features(warehouse)
        decision = read_decision(candidate, features)
        if decision["action"] == "unchanged":
            progress(f"Nothing new to publish: {'; '.join(decision['reasons'])}")
            candidate.remove()
            return None
        document, fitted, messages = read_candidate(candidate, features, decision)
        identity = RunIdentity(run_id=decision["run_id"], dataset=decision["dataset"])
        context = RunContext(
            StageClock(), [], repaired + fitted.warnings, list(messages.get("notes", []))
        )
        result = publish_run(
            settings, warehouse, features, fitted, identity, context, progress, document=document
        )
    candidate.remove()
    return result


@contextlib.contextmanager
def locked(settings: Settings, progress: Progress = silent) -> Iterator[Warehouse]:
    """The warehouse with the run locks held, after repairing a publication a killed run left
    half done: what every step does first (an orchestrator's dbt step too)."""
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        yield warehouse
