"""Keep segment ids stable across retrains by matching a new model to the published one.

K-means knows nothing of yesterday's model. After a retrain, each new segment is matched to a
segment of the previously published model by optimal assignment on the distance between their
centroids, measured in the new model's scaled space. When every matched pair is close (at most
``max_centroid_shift`` standard deviations apart) the data barely changed and each segment keeps
its previous id and name. Otherwise the run reports "segment definitions changed" with the
distances, and the names come from the naming rules alone: a silent rename is never made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from custseg.naming import SEGMENT_NAMES
from custseg.segmenter import CustomerSegmenter

#: Default largest centroid move (in standard deviations of the new data) that still counts as
#: "the same segment".
DEFAULT_MAX_CENTROID_SHIFT = 0.5


@dataclass(frozen=True)
class SegmentMatch:
    """One new segment and the previous segment it was matched to."""

    new_segment_id: int
    previous_segment_id: int
    distance: float


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match_segments`."""

    matches: tuple[SegmentMatch, ...]
    max_centroid_shift: float
    # True when the previous ids cannot be kept (too far apart, or another number of segments).
    definitions_changed: bool
    reason: str

    @property
    def mapping(self) -> dict[int, int]:
        """New segment id -> the id it keeps from the previous model."""
        return {m.new_segment_id: m.previous_segment_id for m in self.matches}

    @property
    def changes_ids(self) -> bool:
        """True when keeping the previous ids relabels at least one new segment."""
        return any(m.new_segment_id != m.previous_segment_id for m in self.matches)

    def to_dict(self) -> dict:
        """JSON-ready form, stored in the model metadata."""
        return {
            "definitions_changed": self.definitions_changed,
            "max_centroid_shift": self.max_centroid_shift,
            "reason": self.reason,
            "matches": [
                {
                    "new_segment_id": m.new_segment_id,
                    "previous_segment_id": m.previous_segment_id,
                    "previous_segment_name": SEGMENT_NAMES[m.previous_segment_id],
                    "distance": round(m.distance, 6),
                }
                for m in self.matches
            ],
        }


def previous_centroids_in_new_space(
    new: CustomerSegmenter, previous: CustomerSegmenter
) -> np.ndarray:
    """The previous model's centroids expressed in the new model's scaled space."""
    transformed = previous.centroids_ * previous.scaler_scale_ + previous.scaler_mean_
    return (transformed - new.scaler_mean_) / new.scaler_scale_


def match_segments(
    new: CustomerSegmenter,
    previous: CustomerSegmenter,
    max_centroid_shift: float = DEFAULT_MAX_CENTROID_SHIFT,
) -> MatchResult:
    """Match the segments of ``new`` to those of ``previous`` (see the module docstring).

    Parameters
    ----------
    new, previous
        Fitted segmenters; ``previous`` is usually the published model loaded from JSON.
    max_centroid_shift
        Largest distance between matched centroids, in standard deviations of the new data,
        for which ids are kept.

    Returns
    -------
    MatchResult
        The optimal pairs with their distances and whether the definitions changed.
    """
    old_centroids = previous_centroids_in_new_space(new, previous)
    distances = np.sqrt(((new.centroids_[:, None, :] - old_centroids[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(distances)
    matches = tuple(
        SegmentMatch(
            new_segment_id=int(new.segment_ids_[r]),
            previous_segment_id=int(previous.segment_ids_[c]),
            distance=float(distances[r, c]),
        )
        for r, c in zip(rows, cols, strict=True)
    )
    worst = max(match.distance for match in matches)
    if len(new.segment_ids_) != len(previous.segment_ids_):
        changed = True
        reason = (
            f"the previous model has {len(previous.segment_ids_)} segments and the new one "
            f"{len(new.segment_ids_)}"
        )
    elif worst > max_centroid_shift:
        changed = True
        pair = max(matches, key=lambda match: match.distance)
        reason = (
            f"segment {pair.previous_segment_id} ({SEGMENT_NAMES[pair.previous_segment_id]}) "
            f"moved {worst:.2f} standard deviations, more than the {max_centroid_shift:g} allowed"
        )
    else:
        changed = False
        reason = (
            f"every segment moved at most {worst:.2f} standard deviations "
            f"(limit {max_centroid_shift:g}): ids kept"
        )
    return MatchResult(
        matches=matches,
        max_centroid_shift=max_centroid_shift,
        definitions_changed=changed,
        reason=reason,
    )
