"""The model stage of a run: choose k, fit, keep the published ids, check the names, measure.

:func:`fit_segments` turns the feature matrix and the run's settings into the segments every
customer gets, with the evidence the outputs record. It writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from custseg.catalogue import MAX_AUTO_SEGMENTS, MIN_SEGMENTS
from custseg.errors import SegmentationError
from custseg.model.drift_reference import DriftReference, drift_reference_of, fit_drift_reference
from custseg.model.evaluation import KSelection, select_k
from custseg.model.matching import MatchResult, keep_previous_ids
from custseg.model.metrics import evaluate_segmentation
from custseg.model.model_file import fingerprint_features, library_versions
from custseg.model.rhythm import Rhythm
from custseg.model.segmenter import CustomerSegmenter
from custseg.settings import DEFAULTS, N_INIT, SILHOUETTE_SAMPLE_SIZE, Settings

DEFAULT_RANDOM_STATE = DEFAULTS.random_state

#: Reports a step of a long run (the CLI shows it; the library says nothing by default).
Progress = Callable[[str], None]


def silent(message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True)
class FittedSegments:
    """A fitted, named model and the segment of every customer."""

    segmenter: CustomerSegmenter
    # Segment id of every customer, in the order of the feature matrix.
    labels: np.ndarray
    # Quality figures over every customer (evaluation_metrics.json).
    metrics: dict
    # The evidence for k when it was chosen automatically, else None.
    selection: KSelection | None
    # How the segments relate to the previously published model (None on a first run).
    match: MatchResult | None
    # Messages for the user: changed definitions, names published although unsupported.
    warnings: list[str]
    # Customers K-means was fitted on when it was fitted on a sample, else None.
    fit_sample_size: int | None
    # How every customer of the run was spread (bins per clustering feature, segment shares):
    # the model file keeps it, and later data is compared with it for drift.
    drift_reference: DriftReference
    # The data's usual gap between purchases in days (None: not measured).
    purchase_gap_days: float | None = None
    # False when the segments come from the published model scoring new customers (a refresh
    # without drift), not from a fit on them.
    retrained: bool = True

    @property
    def n_segments(self) -> int:
        return len(self.segmenter.segment_ids_)


def fit_segments(
    matrix: np.ndarray,
    settings: Settings,
    previous: CustomerSegmenter | None = None,
    progress: Progress = silent,
    rhythm: Rhythm | None = None,
) -> FittedSegments:
    """Fit the segments of the customers of ``matrix`` (the columns of ``FEATURES``).

    k is ``settings.k``, or chosen as ``custseg evaluate`` does; K-means is fitted on a random
    sample of ``settings.fit_sample_size`` customers when there are more; the segments keep the
    ids of ``previous`` (the published model) when they barely moved. ``rhythm`` (the
    customers' silence in usual gaps between purchases, :mod:`custseg.model.rhythm`) decides the
    names' rhythm clauses.

    Raises
    ------
    SegmentationError
        k cannot be chosen automatically, or a name is not supported by its segment's profile
        and ``settings.allow_unsupported_names`` is off.
    InsufficientDataError
        Too few customers, or customers all alike.
    """
    selection = None
    n_segments = settings.n_segments
    if n_segments is None:
        selection = choose_k(matrix, settings, progress, rhythm)
        if selection.chosen_k is None:
            raise SegmentationError(
                f"k could not be chosen automatically: {selection.reason}. Run "
                "`custseg evaluate` to see the evidence and pass --k explicitly."
            )
        n_segments = selection.chosen_k
    n_customers = matrix.shape[0]
    sample = fit_rows(n_customers, settings)
    progress(
        f"Clustering {n_customers:,} customers into {n_segments} segments"
        + ("" if sample is None else f" (fitted on a sample of {len(sample):,})")
    )
    segmenter = CustomerSegmenter(
        n_segments=n_segments,
        random_state=settings.random_state,
        n_init=N_INIT,
    ).fit(
        matrix if sample is None else matrix[sample],
        silence_gaps=None if rhythm is None else rhythm.rows(sample).silence,
    )
    segmenter, match, warnings = keep_previous_ids(segmenter, previous, settings.max_centroid_shift)
    warnings += enforce_supported_names(segmenter, settings.allow_unsupported_names)
    labels = segmenter.predict(matrix)
    metrics = evaluate_segmentation(
        segmenter.scale(matrix),
        labels,
        inertia=segmenter.inertia(matrix),
        random_state=settings.random_state,
        silhouette_sample_size=SILHOUETTE_SAMPLE_SIZE,
    )
    return FittedSegments(
        segmenter=segmenter,
        labels=labels,
        metrics=metrics,
        selection=selection,
        match=match,
        warnings=warnings,
        fit_sample_size=None if sample is None else len(sample),
        drift_reference=fit_drift_reference(matrix, labels, segmenter.segment_ids_),
        purchase_gap_days=None if rhythm is None else rhythm.usual_gap_days,
    )


def fitted_from_model(
    segmenter: CustomerSegmenter,
    document: Mapping,
    matrix: np.ndarray,
    *,
    retrained: bool,
    selection: KSelection | None = None,
    match: MatchResult | None = None,
    warnings: Sequence[str] = (),
) -> FittedSegments:
    """The segments a saved model (``segmenter`` and its model file ``document``) gives the
    customers of ``matrix``, as :func:`fit_segments` would return them: the labels and quality
    figures computed with the seed and silhouette sample the model recorded, its drift reference
    (or one measured now, for a model file written before it was recorded).

    ``retrained`` says whether ``matrix`` is what the model was fitted on (a candidate published
    later) or new customers it scores (a refresh without drift).
    """
    metadata = document.get("metadata", {})
    config = metadata.get("config", {})
    labels = segmenter.predict(matrix)
    metrics = evaluate_segmentation(
        segmenter.scale(matrix),
        labels,
        inertia=segmenter.inertia(matrix),
        random_state=config.get("random_state", DEFAULT_RANDOM_STATE),
        silhouette_sample_size=config.get("silhouette_sample_size", SILHOUETTE_SAMPLE_SIZE),
    )
    return FittedSegments(
        segmenter=segmenter,
        labels=labels,
        metrics=metrics,
        selection=selection,
        match=match,
        warnings=list(warnings),
        fit_sample_size=config.get("fit_sample_size"),
        drift_reference=drift_reference_of(document)
        or fit_drift_reference(matrix, labels, segmenter.segment_ids_),
        purchase_gap_days=metadata.get("purchase_gap_days"),
        retrained=retrained,
    )


def choose_k(
    matrix: np.ndarray,
    settings: Settings,
    progress: Progress = silent,
    rhythm: Rhythm | None = None,
) -> KSelection:
    """Evaluate every k from 2 to ``MAX_AUTO_SEGMENTS`` and pick one under the business
    constraint.

    Every k is fitted on the rows :func:`fit_segments` fits on (:func:`fit_rows`: every
    customer, or the same random sample of ``settings.fit_sample_size``), and every customer is
    assigned to the nearest centroid; the bootstrap subsamples are drawn from the fitted rows
    (see :mod:`custseg.model.evaluation`).
    """
    sample = fit_rows(matrix.shape[0], settings)
    progress(
        f"Evaluating k = {MIN_SEGMENTS}..{MAX_AUTO_SEGMENTS} (quality, bootstrap stability, "
        "smallest segment)"
        + ("" if sample is None else f", fitted on a sample of {len(sample):,} customers")
    )
    return select_k(
        matrix,
        ks=tuple(range(MIN_SEGMENTS, min(MAX_AUTO_SEGMENTS, matrix.shape[0]) + 1)),
        fit_rows=sample,
        rhythm=rhythm,
        random_state=settings.random_state,
        n_init=N_INIT,
        min_segment_share=settings.min_segment_share,
        silhouette_sample_size=SILHOUETTE_SAMPLE_SIZE,
    )


def fit_rows(n_customers: int, settings: Settings) -> np.ndarray | None:
    """Rows to fit on: None for everyone, else a reproducible random sample."""
    if n_customers <= settings.fit_sample_size:
        return None
    rng = np.random.default_rng(settings.random_state)
    return np.sort(rng.choice(n_customers, size=settings.fit_sample_size, replace=False))


def enforce_supported_names(segmenter: CustomerSegmenter, allow_unsupported: bool) -> list[str]:
    """Refuse (or, when allowed, warn about) names the segment profiles do not support."""
    failed = list(segmenter.unsupported_names())
    if not failed:
        return []
    lines = [
        f"segment {check.segment_id} '{check.segment_name}': {check.rule} Not met: {check.detail}"
        for check in failed
    ]
    if not allow_unsupported:
        raise SegmentationError(
            "The data does not support these segment names, so nothing was published:\n  "
            + "\n  ".join(lines)
            + "\nTry another --k (see `custseg evaluate`), or publish anyway with "
            "--allow-unsupported-names."
        )
    return [f"name not supported by the data: {line}" for line in lines]


def model_metadata(
    settings: Settings,
    fitted: FittedSegments,
    customer_ids: Sequence[str],
    matrix: np.ndarray,
    as_of_date: dt.date | None,
    identity: Mapping[str, str | None] | None = None,
    *,
    input_fingerprint: str | None = None,
) -> dict:
    """What the model file records about the fit: the settings, the input's fingerprint
    (``input_fingerprint``, already computed, or :func:`fingerprint_features` of
    ``customer_ids`` and ``matrix``), the library versions (``as_of_date`` None: features given
    in memory without one), and the ``run_id`` and ``dataset`` of ``identity`` (None for both:
    fitted outside a run)."""
    segmenter = fitted.segmenter
    n_customers = len(customer_ids)
    return {
        "as_of_date": as_of_date.isoformat() if as_of_date is not None else None,
        "config": {
            "n_segments": fitted.n_segments,
            "k_chosen_automatically": fitted.selection is not None,
            "random_state": settings.random_state,
            "n_init": N_INIT,
            "init": segmenter.init,
            "init_used": segmenter.init_used_,
            "fit_sample_size": fitted.fit_sample_size,
            "segments_scored_in_warehouse": scored_in_warehouse(n_customers, settings),
            "silhouette_sample_size": SILHOUETTE_SAMPLE_SIZE,
            "max_centroid_shift": settings.max_centroid_shift,
        },
        "purchase_gap_days": fitted.purchase_gap_days,
        "input_fingerprint": (
            fingerprint_features(customer_ids, matrix)
            if input_fingerprint is None
            else input_fingerprint
        ),
        "n_customers": n_customers,
        "library_versions": library_versions(),
        "matching_previous_model": fitted.match.to_dict() if fitted.match else None,
        "run_id": (identity or {}).get("run_id"),
        "dataset": (identity or {}).get("dataset"),
    }


def scored_in_warehouse(n_customers: int, settings: Settings) -> bool:
    """Whether a run scores its customers in SQL instead of publishing one seed row each."""
    return n_customers > settings.seed_max_customers
