"""The run as four steps that run on their own: load, features, model, publish.

``custseg run`` does the four in one process, holding the run locks once
(:func:`custseg.pipeline.run_pipeline`). An orchestrator (Dagster, see
:mod:`custseg.orchestration`; cron; Airflow) runs them one at a time instead, each maybe in its
own process, and retries a failed one alone. So every step takes the settings, holds the run
locks itself (:func:`custseg.pipeline.opened`) and first repairs a publication a killed run
left half done. What a step hands to the next stays where a run keeps it anyway:

- :func:`load_step` replaces the raw tables in the warehouse;
- :func:`features_step` builds ``customer_features`` (and ``fct_sales``) there with dbt;
- :func:`model_step` fits on those features and writes a *candidate* under
  ``ml_pipeline/models/candidate/``: the model file as the publication will write it, the
  evidence for k when k was chosen automatically, and the fit's messages. Nothing is published;
- :func:`publish_step` publishes the candidate as one unit (:func:`custseg.run_publish.
  publish_run`: seeds, mart, history, segments CSV, model, metrics, report), refusing it when
  the features changed since the model step, then removes it.

The four steps in order publish the same files as one ``custseg run`` on the same data and
settings, byte for byte (the run id aside; ``tests/test_steps.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from custseg.errors import ConfigError
from custseg.features import CustomerFeatures, build_features, read_customer_features
from custseg.ingest.layout import LoadedTable
from custseg.ingest.mapping import InputSpec
from custseg.model.evaluation import KSelection
from custseg.model.fitting import (
    FittedSegments,
    Progress,
    fit_segments,
    fitted_from_model,
    silent,
)
from custseg.model.matching import MatchResult
from custseg.model.model_file import (
    canonical_json,
    load_model,
    load_previous_model,
)
from custseg.pipeline import published_dataset
from custseg.publish.atomic import write_bytes_atomic, write_json_atomic
from custseg.publish.preflight import check_writable, require_built_warehouse
from custseg.publish.session import opened, repair_interrupted_publication
from custseg.run_identity import RunIdentity, run_identity
from custseg.run_publish import (
    RunContext,
    k_selection_document,
    publish_run,
    run_model_document,
)
from custseg.run_result import RunResult, StageClock
from custseg.settings import Settings
from custseg.warehouses import Warehouse

#: The folder of the candidate, inside the ML step's output folder (git ignores it all).
CANDIDATE_FOLDER = "candidate"


@dataclass(frozen=True)
class CandidateFiles:
    """Where the model step leaves its candidate for the publish step."""

    folder: Path

    @property
    def model_path(self) -> Path:
        """The model file, byte for byte the one the publish step publishes (written last, so
        its presence means the candidate is complete)."""
        return self.folder / "segment_model.json"

    @property
    def k_selection_path(self) -> Path:
        """The evidence for k (``k_selection.json``'s document), when k was chosen
        automatically."""
        return self.folder / "k_selection.json"

    @property
    def messages_path(self) -> Path:
        """The warnings and notes of the fit, for the publish step's result."""
        return self.folder / "messages.json"

    def remove(self) -> None:
        """Delete the candidate (the model file first: what is left is no candidate)."""
        for path in (self.model_path, self.k_selection_path, self.messages_path):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: files of the user's are kept
            self.folder.rmdir()


def candidate_files(settings: Settings) -> CandidateFiles:
    """The candidate of the project of ``settings``."""
    return CandidateFiles(settings.layout.output_dir / CANDIDATE_FOLDER)


@dataclass(frozen=True)
class FeaturesSummary:
    """What the features step built: the as-of date, the customers and their fingerprint."""

    as_of_date: dt.date
    n_customers: int
    # custseg.model.model_file.fingerprint_features of the customers' features.
    input_fingerprint: str


@dataclass(frozen=True)
class CandidateModel:
    """The model the model step fitted and left for the publish step."""

    model_path: Path
    run_id: str
    dataset: str
    as_of_date: dt.date
    n_segments: int
    input_fingerprint: str
    # Changed definitions, unsupported names published anyway, a refused previous model.
    warnings: list[str]
    notes: list[str]


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
    settings: Settings, inputs: Sequence[InputSpec] = (), progress: Progress = silent
) -> CandidateModel:
    """Fit the segments on the warehouse's features and write them as the candidate.

    As a run fits: k from the settings or chosen automatically, the ids of the published model
    of the same dataset kept when the segments barely moved. ``inputs`` (the input mapping)
    only names the dataset, as a run derives it. Nothing is published.

    Raises
    ------
    SegmentationError, InsufficientDataError
        As :func:`custseg.model.fitting.fit_segments`.
    """
    check_writable(settings, publishing=False)
    require_built_warehouse(settings)
    fallback = None if settings.data_dir else published_dataset(settings)
    identity = run_identity(settings, inputs, fallback=fallback)
    with locked(settings, progress) as warehouse:
        features = read_customer_features(warehouse)
        previous, model_warnings, notes = load_previous_model(
            settings.layout.model_path, identity.dataset
        )
        fitted = fit_segments(features.matrix, settings, previous, progress, features.rhythm)
        document = run_model_document(settings, fitted, features, identity)
        warnings = model_warnings + fitted.warnings
        write_candidate(
            candidate_files(settings), document, fitted, features, identity, (warnings, notes)
        )
        progress(f"Candidate model written to {candidate_files(settings).model_path}")
    return CandidateModel(
        model_path=candidate_files(settings).model_path,
        run_id=identity.run_id,
        dataset=identity.dataset,
        as_of_date=features.as_of_date,
        n_segments=fitted.n_segments,
        input_fingerprint=document["metadata"]["input_fingerprint"],
        warnings=warnings,
        notes=notes,
    )


def publish_step(settings: Settings, progress: Progress = silent) -> RunResult:
    """Publish the candidate of the model step as one unit, then remove it.

    The model file published is the candidate's, byte for byte; the seeds, the mart, the
    history and the other outputs are what ``custseg run`` publishes for that model.

    Raises
    ------
    ConfigError
        There is no candidate, or it was fitted on other features than the warehouse holds now
        (the features step ran again since): run the model step again.
    ModelIntegrityError
        The candidate's model file is damaged or was edited.
    """
    check_writable(settings)
    require_built_warehouse(settings)
    candidate = candidate_files(settings)
    with opened(settings) as warehouse:
        repaired = repair_interrupted_publication(settings, warehouse, progress)
        features = read_customer_features(warehouse)
        document, fitted, messages = read_candidate(candidate, features)
        metadata = document["metadata"]
        identity = RunIdentity(run_id=metadata["run_id"], dataset=metadata["dataset"])
        context = RunContext(
            StageClock(), [], repaired + fitted.warnings, list(messages.get("notes", []))
        )
        result = publish_run(
            settings, warehouse, features, fitted, identity, context, progress, document=document
        )
    candidate.remove()
    return result


# ------------------------------------------------------------------------------ the candidate


@contextlib.contextmanager
def locked(settings: Settings, progress: Progress = silent) -> Iterator[Warehouse]:
    """The warehouse with the run locks held, after repairing a publication a killed run left
    half done: what every step does first (an orchestrator's dbt step too)."""
    with opened(settings) as warehouse:
        repair_interrupted_publication(settings, warehouse, progress)
        yield warehouse


def write_candidate(
    candidate: CandidateFiles,
    document: dict,
    fitted: FittedSegments,
    features: CustomerFeatures,
    identity: RunIdentity,
    messages: tuple[Sequence[str], Sequence[str]],
) -> None:
    """Replace the candidate: the previous one goes first, the model file comes last.

    ``messages`` are the fit's warnings and notes for the user.
    """
    candidate.remove()
    if fitted.selection is not None:
        write_json_atomic(
            candidate.k_selection_path,
            k_selection_document(fitted.selection, identity, features),
        )
    warnings, notes = messages
    write_json_atomic(candidate.messages_path, {"warnings": list(warnings), "notes": list(notes)})
    write_bytes_atomic(candidate.model_path, canonical_json(document).encode("utf-8"))


def read_candidate(
    candidate: CandidateFiles, features: CustomerFeatures
) -> tuple[dict, FittedSegments, Mapping]:
    """The candidate's model document, the fit rebuilt on ``features`` and its messages.

    The labels and the quality figures are recomputed from the saved model (as the fit
    computed them, with the seed and silhouette sample it recorded), and the evidence for k is
    the saved one.

    Raises
    ------
    ConfigError
        No candidate, or one fitted on other features than ``features``.
    """
    if not candidate.model_path.is_file():
        raise ConfigError(
            f"No candidate model at {candidate.model_path}: run the model step first."
        )
    segmenter, document = load_model(candidate.model_path)
    metadata = document["metadata"]
    fingerprint = features.fingerprint
    if metadata["input_fingerprint"] != fingerprint:
        raise ConfigError(
            f"The candidate model {candidate.model_path} was fitted on other features than the "
            "warehouse holds: the features changed since the model step: run it again. "
            "Nothing was published."
        )
    config = metadata["config"]
    selection = None
    if config["k_chosen_automatically"]:
        evidence = _read_json(candidate.k_selection_path)
        if evidence.get("run_id") != metadata["run_id"]:
            raise ConfigError(
                f"{candidate.k_selection_path} is not the evidence of the candidate model "
                f"{candidate.model_path} (another run wrote it): run the model step again."
            )
        selection = KSelection.from_dict(evidence)
    messages = _read_json(candidate.messages_path)
    matching = metadata.get("matching_previous_model")
    fitted = fitted_from_model(
        segmenter,
        document,
        features.matrix,
        retrained=True,
        selection=selection,
        match=MatchResult.from_dict(matching) if matching is not None else None,
        warnings=messages.get("warnings", []),
    )
    return document, fitted, messages


def _read_json(path: Path) -> dict:
    """A JSON file of the candidate; a missing or unreadable one means an incomplete candidate."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"The candidate's {path.name} cannot be read ({error}): run the model step again."
        ) from error
