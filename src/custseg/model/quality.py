"""Is a retrained model not worse than the published one? The quality measures of a refresh.

``custseg refresh`` retrains when drift passes its thresholds, and publishes the retrained model
only when it is not worse than the published one on the same customers (the features of the
refresh), measure by measure:

- **silhouette** (sampled, as every run measures it): at most :data:`SILHOUETTE_TOLERANCE` lower;
- **bootstrap stability** (mean adjusted Rand index of refits on subsamples against the full
  labels, :func:`custseg.model.evaluation.bootstrap_stability`): at most
  :data:`STABILITY_TOLERANCE` lower;
- **smallest segment**: its share of customers at least the published model's, or at least the
  ``min_segment_share`` setting;
- **names supported**: at least as many segments whose profile supports their name.

The tolerances absorb the noise of sampling and of K-means restarts: a retrained model that only
differs by that noise is as good, and it describes the customers of today.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from custseg.model.evaluation import bootstrap_stability
from custseg.model.metrics import evaluate_segmentation
from custseg.model.name_checks import check_names
from custseg.model.segmenter import CustomerSegmenter, segment_profiles
from custseg.settings import SILHOUETTE_SAMPLE_SIZE

#: How much lower a retrained model's silhouette may be and still count as not worse.
SILHOUETTE_TOLERANCE = 0.01
#: How much lower its bootstrap stability (mean adjusted Rand index) may be.
STABILITY_TOLERANCE = 0.02


@dataclass(frozen=True)
class ModelQuality:
    """A model's quality measures on one set of customers."""

    silhouette: float | None
    bootstrap_stability: float
    smallest_segment_share: float
    names_supported: int
    segments: int

    def to_dict(self) -> dict:
        return asdict(self)


def measure_quality(
    segmenter: CustomerSegmenter,
    X: np.ndarray,
    labels: np.ndarray,
    *,
    silence: np.ndarray | None,
    random_state: int,
) -> ModelQuality:
    """Measure ``segmenter``'s segments ``labels`` of the customers ``X`` (original units).

    A segment without customers counts as the smallest (share 0) and its name as unsupported.
    """
    ids = tuple(segmenter.segment_ids_)
    positions = np.searchsorted(np.array(ids), labels)
    present = [i for i, sid in enumerate(ids) if np.any(labels == sid)]
    profiles = segment_profiles(
        X[np.isin(positions, present)],
        np.searchsorted(np.array(present), positions[np.isin(positions, present)]),
        tuple(ids[i] for i in present),
        None if silence is None else silence[np.isin(positions, present)],
    )
    supported = sum(check.passed for check in check_names(profiles))
    scaled = segmenter.scale(X)
    metrics = evaluate_segmentation(
        scaled,
        labels,
        inertia=segmenter.inertia(X),
        random_state=random_state,
        silhouette_sample_size=SILHOUETTE_SAMPLE_SIZE,
    )
    shares = [np.count_nonzero(labels == sid) / len(labels) for sid in ids]
    stability = bootstrap_stability(X, labels, segmenter, random_state=random_state)
    return ModelQuality(
        silhouette=metrics.get("silhouette"),
        bootstrap_stability=stability.ari_mean,
        smallest_segment_share=round(float(min(shares)), 6),
        names_supported=int(supported),
        segments=len(ids),
    )


def worse_on(
    candidate: ModelQuality, published: ModelQuality, *, min_segment_share: float
) -> list[str]:
    """The measures on which ``candidate`` is worse than ``published``, as sentences (none:
    the candidate is not worse and may be published)."""
    reasons = []
    if (
        candidate.silhouette is not None
        and published.silhouette is not None
        and candidate.silhouette < published.silhouette - SILHOUETTE_TOLERANCE
    ):
        reasons.append(
            f"silhouette {candidate.silhouette:.3f} against {published.silhouette:.3f} "
            f"(more than {SILHOUETTE_TOLERANCE} lower)"
        )
    if candidate.bootstrap_stability < published.bootstrap_stability - STABILITY_TOLERANCE:
        reasons.append(
            f"bootstrap stability {candidate.bootstrap_stability:.3f} against "
            f"{published.bootstrap_stability:.3f} (more than {STABILITY_TOLERANCE} lower)"
        )
    floor = min(published.smallest_segment_share, min_segment_share)
    if candidate.smallest_segment_share < floor:
        reasons.append(
            f"smallest segment {candidate.smallest_segment_share:.1%} of the customers, under "
            f"{floor:.1%}"
        )
    if candidate.names_supported < published.names_supported:
        reasons.append(
            f"{candidate.names_supported} of {candidate.segments} names supported by their "
            f"segment's profile, against {published.names_supported} of {published.segments}"
        )
    return reasons
