"""The candidate: what the model step decided, left on disk for the publish step.

The orchestrated steps (:mod:`custseg.steps`) may run in separate processes, so the model step
writes its decision under ``ml_pipeline/models/candidate/`` and the publish step reads it back:

- ``decision.json``: the action and its reasons (:class:`custseg.refresh.RefreshDecision`'s
  words), the run id and dataset, and the fingerprint of the features it was decided on, which
  the publish step checks against the warehouse's;
- ``segment_model.json``: the model file to publish, byte for byte (absent when there is
  nothing new); the published model's own file when it keeps scoring the customers;
- ``k_selection.json``: the evidence for k when a fit chose it;
- ``messages.json``: the fit's warnings and notes.

The decision comes first and the model file last, so a model file means a complete candidate.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from custseg.errors import ConfigError
from custseg.features import CustomerFeatures
from custseg.model.evaluation import KSelection
from custseg.model.fitting import FittedSegments, fitted_from_model
from custseg.model.matching import MatchResult
from custseg.model.model_file import canonical_json, load_model
from custseg.publish.atomic import write_bytes_atomic, write_json_atomic
from custseg.refresh import RefreshDecision
from custseg.run_identity import RunIdentity
from custseg.run_publish import k_selection_document
from custseg.settings import Settings

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

    @property
    def decision_path(self) -> Path:
        """What the model step decided, why, for which features and under which run id."""
        return self.folder / "decision.json"

    def remove(self) -> None:
        """Delete the candidate (the model file first: what is left is no candidate)."""
        for path in (
            self.model_path,
            self.k_selection_path,
            self.messages_path,
            self.decision_path,
        ):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: files of the user's are kept
            self.folder.rmdir()


def candidate_files(settings: Settings) -> CandidateFiles:
    """The candidate of the project of ``settings``."""
    return CandidateFiles(settings.layout.output_dir / CANDIDATE_FOLDER)


def write_candidate(
    candidate: CandidateFiles,
    decision: RefreshDecision,
    document: dict | None,
    features: CustomerFeatures,
    identity: RunIdentity,
    messages: tuple[Sequence[str], Sequence[str]],
) -> None:
    """Replace the candidate: the previous one goes first, the model file comes last.

    ``document`` is the model file to publish (None: nothing new, only the decision is
    written); ``messages`` are the fit's warnings and notes for the user.
    """
    candidate.remove()
    fitted = decision.fitted
    if fitted is not None and fitted.selection is not None:
        write_json_atomic(
            candidate.k_selection_path,
            k_selection_document(fitted.selection, identity, features),
        )
    warnings, notes = messages
    write_json_atomic(candidate.messages_path, {"warnings": list(warnings), "notes": list(notes)})
    write_json_atomic(
        candidate.decision_path,
        {
            "action": decision.action,
            "reasons": list(decision.reasons),
            "run_id": identity.run_id,
            "dataset": identity.dataset,
            "as_of_date": features.as_of_date.isoformat(),
            "input_fingerprint": features.fingerprint,
            # False: the published model scores the customers (its file is published again).
            "retrained": fitted is not None and fitted.retrained,
        },
    )
    if document is not None:
        write_bytes_atomic(candidate.model_path, canonical_json(document).encode("utf-8"))


def read_decision(candidate: CandidateFiles, features: CustomerFeatures) -> dict:
    """The model step's decision, checked against the warehouse's ``features``.

    Raises
    ------
    ConfigError
        No candidate, or one decided on other features than ``features``.
    """
    if not candidate.decision_path.is_file():
        if candidate.model_path.is_file():
            raise ConfigError(
                f"The candidate model {candidate.model_path} has no {candidate.decision_path.name} "
                "beside it (an older custseg or an interrupted model step wrote it): run the "
                "model step again. Nothing was published."
            )
        raise ConfigError(
            f"No candidate model at {candidate.model_path}: run the model step first."
        )
    decision = _read_json(candidate.decision_path)
    if decision.get("input_fingerprint") != features.fingerprint:
        raise ConfigError(
            f"The candidate model {candidate.model_path} was fitted on other features than the "
            "warehouse holds: the features changed since the model step: run it again. "
            "Nothing was published."
        )
    return decision


def read_candidate(
    candidate: CandidateFiles, features: CustomerFeatures, decision: Mapping
) -> tuple[dict, FittedSegments, Mapping]:
    """The candidate's model document, the segments it gives ``features`` and its messages.

    ``decision`` is the candidate's, as :func:`read_decision` checked it. The labels and the
    quality figures are recomputed from the saved model (as the fit computed them, with the
    seed and silhouette sample it recorded), and the evidence for k is the saved one.

    Raises
    ------
    ConfigError
        The model file or the evidence for k is missing or another run's.
    """
    if not candidate.model_path.is_file():
        raise ConfigError(
            f"No candidate model at {candidate.model_path}: run the model step first."
        )
    segmenter, document = load_model(candidate.model_path)
    messages = _read_json(candidate.messages_path)
    if not decision["retrained"]:
        # The published model scoring today's customers, as custseg refresh publishes it.
        fitted = fitted_from_model(
            segmenter,
            document,
            features.matrix,
            retrained=False,
            warnings=messages.get("warnings", []),
        )
        return document, fitted, messages
    metadata = document["metadata"]
    if metadata["run_id"] != decision["run_id"]:
        raise ConfigError(
            f"The candidate model {candidate.model_path} is not the one its decision names "
            "(another run wrote it): run the model step again."
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
