"""Keep segment ids stable across retrains by matching a new model to the published one.

K-means knows nothing of yesterday's model. After a retrain, each new segment is matched to a
segment of the previously published model by optimal assignment on the distance between their
centroids, measured in the new model's scaled space. When every matched pair is close (at most
``max_centroid_shift`` standard deviations apart) the data barely changed and each segment keeps
its previous id and name. Otherwise the run reports "segment definitions changed" with the
distances, and the names come from the naming rules alone: a silent rename is never made.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from custseg.catalogue import SEGMENT_NAMES
from custseg.errors import ConfigError
from custseg.model.name_checks import check_names
from custseg.model.naming import name_clusters_as
from custseg.model.segmenter import CustomerSegmenter
from custseg.settings import DEFAULTS


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchResult:
        """The result :meth:`to_dict` wrote (the model file's ``matching_previous_model``)."""
        return cls(
            matches=tuple(
                SegmentMatch(
                    new_segment_id=match["new_segment_id"],
                    previous_segment_id=match["previous_segment_id"],
                    distance=match["distance"],
                )
                for match in data["matches"]
            ),
            max_centroid_shift=data["max_centroid_shift"],
            definitions_changed=data["definitions_changed"],
            reason=data["reason"],
        )


def previous_centroids_in_new_space(
    new: CustomerSegmenter, previous: CustomerSegmenter
) -> np.ndarray:
    """The previous model's centroids expressed in the new model's scaled space."""
    transformed = previous.centroids_ * previous.scaler_scale_ + previous.scaler_mean_
    return (transformed - new.scaler_mean_) / new.scaler_scale_


def match_segments(
    new: CustomerSegmenter,
    previous: CustomerSegmenter,
    max_centroid_shift: float = DEFAULTS.max_centroid_shift,
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


def keep_previous_ids(
    segmenter: CustomerSegmenter,
    previous: CustomerSegmenter | None,
    max_centroid_shift: float = DEFAULTS.max_centroid_shift,
) -> tuple[CustomerSegmenter, MatchResult | None, list[str]]:
    """Give each new segment the id of the matching published segment when the data barely moved.

    Returns the (relabelled) segmenter, the match (None without a previous model) and the
    warnings to show: a "segment definitions changed" warning with every pair's distance when
    the previous ids cannot be kept.
    """
    if previous is None:
        return segmenter, None, []
    match = match_segments(segmenter, previous, max_centroid_shift)
    if match.definitions_changed:
        pairs = ", ".join(
            f"{SEGMENT_NAMES[m.previous_segment_id]} -> {SEGMENT_NAMES[m.new_segment_id]} "
            f"({m.distance:.2f} sd)"
            for m in match.matches
        )
        warning = (
            f"segment definitions changed: {match.reason}. Names now come from the naming rules "
            f"alone; previous -> new matches: {pairs}."
        )
        return segmenter, match, [warning]
    if match.changes_ids:
        segmenter = with_segment_ids(segmenter, match.mapping)
    return segmenter, match, []


def with_segment_ids(segmenter: CustomerSegmenter, mapping: Mapping[int, int]) -> CustomerSegmenter:
    """Return a copy whose segment currently labelled ``old`` is labelled ``mapping[old]``.

    Used to keep ids (and so names) stable across retrains: match the new segments to the
    previous model's, then relabel. ``segmenter`` is not changed. In the copy, centroids,
    ``labels_`` (if present), profiles, naming evidence and name checks follow their
    segment and are re-ordered by the new ids, so the copy is canonical and
    ``predict`` returns the new ids. The evidence of a segment whose new id is not the
    one the naming scores choose ends with ``"; id kept from the previous model"``; the
    name checks are recomputed for the new names.

    Parameters
    ----------
    mapping : mapping of int to int
        Current segment id -> new segment id, for every segment of the model. The new ids
        are distinct known ids; with ``n_segments < 5`` they may include ids the model does
        not use yet.

    Returns
    -------
    CustomerSegmenter
        A new fitted segmenter.

    Raises
    ------
    ConfigError
        If the mapping misses a segment, names a segment the model does not have, maps two
        segments to the same id or to an unknown id.
    SegmentationError
        If the segmenter is not fitted.
    """
    segmenter._check_fitted("with_segment_ids")
    new_of_old = _checked_mapping(segmenter, mapping)
    new_ids = [new_of_old[s] for s in segmenter.segment_ids_]
    order = np.argsort(np.array(new_ids), kind="stable")  # new row i = old row order[i]
    segment_ids = tuple(new_ids[i] for i in order)
    centroids = segmenter.centroids_[order].copy()
    profiles = []
    for i in order:
        profile = copy.deepcopy(segmenter.profiles_[i])
        profile["segment_id"] = new_ids[i]
        profile["segment_name"] = SEGMENT_NAMES[new_ids[i]]
        profiles.append(profile)

    seg = type(segmenter)(**segmenter.get_params())
    seg.segment_ids_ = segment_ids
    seg.centroids_ = centroids
    seg.scaler_mean_ = segmenter.scaler_mean_.copy()
    seg.scaler_scale_ = segmenter.scaler_scale_.copy()
    seg.naming_ = name_clusters_as(centroids, segment_ids)
    if hasattr(segmenter, "labels_"):
        old = np.array(segmenter.segment_ids_, dtype=np.int64)
        new = np.array(new_ids, dtype=np.int64)
        seg.labels_ = new[np.searchsorted(old, segmenter.labels_)]
    seg.inertia_ = segmenter.inertia_
    seg.init_used_ = segmenter.init_used_
    seg.n_customers_fit_ = segmenter.n_customers_fit_
    seg.profiles_ = profiles
    seg.name_checks_ = check_names(profiles)
    return seg


def _checked_mapping(segmenter: CustomerSegmenter, mapping: Mapping[int, int]) -> dict[int, int]:
    """Validate a :func:`with_segment_ids` mapping; return it with plain int keys/values."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(
            f"with_segment_ids() needs a mapping of current segment id -> new id, got "
            f"{type(mapping).__name__}."
        )
    current = set(segmenter.segment_ids_)
    out: dict[int, int] = {}
    for old, new in mapping.items():
        for value in (old, new):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ConfigError(f"Segment ids must be integers; got {value!r} in {mapping}.")
        if int(old) not in current:
            raise ConfigError(
                f"Segment {old} is not a segment of this model (it has "
                f"{list(segmenter.segment_ids_)}); map exactly these ids."
            )
        if int(new) not in SEGMENT_NAMES:
            raise ConfigError(
                f"Segment {old} is mapped to {new}, which is not a known segment id "
                f"({sorted(SEGMENT_NAMES)})."
            )
        out[int(old)] = int(new)
    missing = sorted(current - set(out))
    if missing:
        raise ConfigError(
            f"The mapping gives no new id for segment(s) {missing}; map every segment of "
            f"the model ({list(segmenter.segment_ids_)})."
        )
    if len(set(out.values())) != len(out):
        raise ConfigError(
            f"The mapping {out} gives two segments the same id; new ids must be distinct."
        )
    return out
