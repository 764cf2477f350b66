"""Drift of a run's customers against the model's training data or against the previous run.

Four measures, each in a :class:`DriftReport`:

Population stability index (PSI), per clustering feature
    The feature's values are counted in bins fixed on the reference
    (:class:`~custseg.model.drift_reference.FeatureBins`, stored in the model file). With
    ``p_b`` the share of the new customers in bin ``b`` and ``q_b`` that of the reference::

        PSI = sum_b (p_b - q_b) * ln(p_b / q_b)

    An empty bin would make a term infinite, so both shares are first floored at
    :data:`PSI_FLOOR` (``max(share, 1e-4)``). Each term is then finite and >= 0 (``p - q`` and
    ``ln(p / q)`` have the same sign), so PSI is finite, >= 0, and 0 when every bin
    holds the same share. Rule of thumb: under 0.1 stable, 0.1 to 0.25 a moderate shift, above
    0.25 a significant one.

Segment share shift, per segment
    ``shift_k = share_now(k) - share_then(k)``, shares of customers, a segment absent on one
    side counting 0 there. The report also gives the largest ``|shift_k|``.

Share of customers who kept their segment (against the previous run only)
    Over the customers present in both runs, ``kept = #{same segment id} / #{in both}``.
    The model file holds no per-customer segments, so against the training data it is not
    available.

Centroid movement, per segment and clustering feature, in original units
    ``movement = centre_now - centre_then``. A segment's centre is computed as the model's
    centroids are: the mean of its customers in the clustering space (``log1p`` of orders and
    order value), turned back into original units (``expm1``); for recency it is the plain
    mean. Against the training data ``centre_then`` is the model's
    ``centroid_original_units``, so a model compared with the very customers it was fitted on
    moves 0. Segments without customers on one side are left out.

Thresholds (:class:`~custseg.monitoring.drift_report.DriftThresholds`, from the ``drift_*``
settings) turn a report into alarms (:meth:`~custseg.monitoring.drift_report.DriftReport.alarms`);
both are named here too. Everything here is numpy over arrays already in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from custseg.errors import InputDataError
from custseg.model.drift_reference import (
    DriftReference,
    FeatureBins,
    drift_reference_of,
    fit_feature_bins,
)
from custseg.model.features import CLUSTER_FEATURES, FEATURES, inverse_transform, transform_raw
from custseg.monitoring.drift_report import DriftAlarm, DriftReport, DriftThresholds

#: Floor of a bin's share before the PSI's logarithm (an empty bin counts as 0.01%).
PSI_FLOOR = 1e-4
#: What a report compares with.
TRAINING_DATA = "training data"
PREVIOUS_RUN = "previous run"

__all__ = [
    "PSI_FLOOR",
    "PREVIOUS_RUN",
    "TRAINING_DATA",
    "DriftAlarm",
    "DriftReport",
    "DriftThresholds",
    "Segmentation",
    "centroid_movement",
    "drift_against_previous",
    "drift_against_training",
    "feature_psi",
    "kept_segment_share",
    "model_centres",
    "population_stability_index",
    "segment_centres",
    "segment_shares",
    "share_shift",
]

#: Why a comparison lacks a measure.
NO_REFERENCE_NOTE = (
    "population stability index and segment share shift against the training data: not "
    "available, the model file was written before custseg recorded the training data's bins "
    "(retrain with `custseg run` to record them)"
)
NO_KEPT_SHARE_NOTE = (
    "share of customers who kept their segment: not available against the training data (the "
    "model file holds no per-customer segments)"
)
NO_CUSTOMER_IN_BOTH_NOTE = (
    "share of customers who kept their segment: not available, no customer is in both runs"
)
BINS_FROM_PREVIOUS_NOTE = (
    "the model file holds no reference bins: the population stability index uses bins fixed "
    "on the previous run's customers"
)


@dataclass(frozen=True)
class Segmentation:
    """The customers of one run: their features and segments.

    Raises InputDataError (on construction) when the shapes disagree, a customer id repeats, a
    feature is NaN or infinite, a segment id is negative, or there is no customer.
    """

    customer_ids: tuple[str, ...]
    # Shape (n, len(FEATURES)), original units (the columns of custseg.model.features.FEATURES).
    features: np.ndarray
    # Shape (n,): each customer's segment id.
    segment_ids: np.ndarray

    def __post_init__(self) -> None:
        # Lists and other array-likes are taken as they come (the dataclass is frozen).
        object.__setattr__(self, "customer_ids", tuple(str(c) for c in self.customer_ids))
        object.__setattr__(self, "features", np.asarray(self.features, dtype=np.float64))
        object.__setattr__(self, "segment_ids", np.asarray(self.segment_ids, dtype=np.int64))
        n = len(self.customer_ids)
        if n == 0:
            raise InputDataError("A segmentation to compare for drift holds no customers.")
        if self.features.shape != (n, len(FEATURES)) or self.segment_ids.shape != (n,):
            raise InputDataError(
                f"A segmentation needs one row of {len(FEATURES)} features ({', '.join(FEATURES)}) "
                f"and one segment id per customer; got {n} ids, features of shape "
                f"{self.features.shape} and segment ids of shape {self.segment_ids.shape}."
            )
        if not np.all(np.isfinite(self.features)) or np.any(self.segment_ids < 0):
            raise InputDataError(
                "A segmentation to compare for drift holds a NaN or infinite feature or a "
                "negative segment id; drop or fix these customers."
            )
        if len(set(self.customer_ids)) != n:
            raise InputDataError(
                "A segmentation lists a customer id twice; give each customer once."
            )

    def feature(self, name: str) -> np.ndarray:
        """One column of the features, by name."""
        return self.features[:, FEATURES.index(name)]


def population_stability_index(
    new_shares: Sequence[float] | np.ndarray,
    reference_shares: Sequence[float] | np.ndarray,
    floor: float = PSI_FLOOR,
) -> float:
    """``sum_b (p_b - q_b) * ln(p_b / q_b)`` with ``p = max(new, floor)``,
    ``q = max(reference, floor)``: finite and >= 0.

    Raises
    ------
    ValueError
        If the two have different lengths, are empty or hold a negative or non-finite share.
    """
    p = np.asarray(new_shares, dtype=np.float64)
    q = np.asarray(reference_shares, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(f"shares of shapes {p.shape} and {q.shape} cannot be compared")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))) or np.any(p < 0) or np.any(q < 0):
        raise ValueError("shares must be finite and >= 0")
    p, q = np.maximum(p, floor), np.maximum(q, floor)
    return float(np.sum((p - q) * np.log(p / q)))


def feature_psi(bins: FeatureBins, values: np.ndarray) -> float:
    """PSI of ``values`` against the reference shares of ``bins``."""
    return population_stability_index(bins.shares_of(values), bins.reference_shares)


def segment_shares(segment_ids: np.ndarray) -> dict[int, float]:
    """Share of customers per segment id present in ``segment_ids``."""
    ids, counts = np.unique(np.asarray(segment_ids, dtype=np.int64), return_counts=True)
    return {int(sid): int(count) / len(segment_ids) for sid, count in zip(ids, counts, strict=True)}


def share_shift(now: Mapping[int, float], then: Mapping[int, float]) -> dict[int, float]:
    """``now[k] - then[k]`` for every segment id of either (absent counts 0)."""
    return {sid: now.get(sid, 0.0) - then.get(sid, 0.0) for sid in sorted(set(now) | set(then))}


def kept_segment_share(now: Segmentation, then: Segmentation) -> tuple[float | None, int]:
    """Share of the customers of both runs whose segment id is the same, and their number
    (None and 0 when no customer is in both)."""
    before = dict(zip(then.customer_ids, then.segment_ids.tolist(), strict=True)).get
    absent = -1  # segment ids are >= 0
    was = np.array([before(cid, absent) for cid in now.customer_ids], dtype=np.int64)
    in_both = was != absent
    n_both = int(np.count_nonzero(in_both))
    if n_both == 0:
        return None, 0
    return int(np.count_nonzero(was[in_both] == now.segment_ids[in_both])) / n_both, n_both


def segment_centres(segmentation: Segmentation) -> dict[int, dict[str, float]]:
    """Per segment id, its centre in original units (mean in the clustering space, turned
    back: ``expm1(mean(log1p(x)))`` for orders and order value, the mean for recency)."""
    space = transform_raw(segmentation.features)
    ids, members = np.unique(segmentation.segment_ids, return_inverse=True)
    counts = np.bincount(members, minlength=len(ids))
    means = (
        np.column_stack(
            [
                np.bincount(members, weights=space[:, j], minlength=len(ids))
                for j in range(space.shape[1])
            ]
        )
        / counts[:, None]
    )
    return {
        int(sid): {f: float(v) for f, v in zip(CLUSTER_FEATURES, centre, strict=True)}
        for sid, centre in zip(ids, inverse_transform(means), strict=True)
    }


def model_centres(document: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """The model's ``centroid_original_units`` per segment id, from a model document."""
    return {
        int(segment["segment_id"]): {
            f: float(segment["centroid_original_units"][f]) for f in CLUSTER_FEATURES
        }
        for segment in document["model"]["segments"]
    }


def centroid_movement(
    now: Mapping[int, Mapping[str, float]], then: Mapping[int, Mapping[str, float]]
) -> dict[int, dict[str, float]]:
    """``now - then`` per feature, for the segment ids on both sides."""
    return {
        sid: {f: now[sid][f] - then[sid][f] for f in CLUSTER_FEATURES}
        for sid in sorted(set(now) & set(then))
    }


def drift_against_training(document: Mapping[str, Any], now: Segmentation) -> DriftReport:
    """Drift of ``now`` (customers scored with the model of ``document``) against the data the
    model was trained on.

    A model file written before the reference was recorded gives no PSI and no share shift
    (a note says so); the centroid movement comes from the model itself and is always there.
    """
    reference = drift_reference_of(document)
    notes = [NO_KEPT_SHARE_NOTE]
    psi: dict[str, float] = {}
    shifts: dict[int, float] = {}
    if reference is None:
        notes.insert(0, NO_REFERENCE_NOTE)
    else:
        psi = {b.feature: feature_psi(b, now.feature(b.feature)) for b in reference.feature_bins}
        shifts = share_shift(segment_shares(now.segment_ids), reference.segment_shares)
    return DriftReport(
        against=TRAINING_DATA,
        n_customers=len(now.customer_ids),
        n_reference_customers=None if reference is None else reference.n_customers,
        feature_psi=psi,
        segment_share_shift=shifts,
        kept_share=None,
        n_customers_in_both=None,
        centroid_movement=centroid_movement(segment_centres(now), model_centres(document)),
        notes=tuple(notes),
    )


def drift_against_previous(
    now: Segmentation, previous: Segmentation, reference: DriftReference | None
) -> DriftReport:
    """Drift of ``now`` against the previous run.

    Both runs are counted in the bins of ``reference`` (the model file's); without one, bins
    are fixed on the previous run's customers by the same rule (a note says so).
    """
    notes: list[str] = []
    if reference is None:
        notes.append(BINS_FROM_PREVIOUS_NOTE)
        all_bins = tuple(fit_feature_bins(f, previous.feature(f)) for f in CLUSTER_FEATURES)
    else:
        all_bins = reference.feature_bins
    psi = {
        bins.feature: population_stability_index(
            bins.shares_of(now.feature(bins.feature)),
            bins.shares_of(previous.feature(bins.feature)),
        )
        for bins in all_bins
    }
    kept, n_both = kept_segment_share(now, previous)
    if kept is None:
        notes.append(NO_CUSTOMER_IN_BOTH_NOTE)
    return DriftReport(
        against=PREVIOUS_RUN,
        n_customers=len(now.customer_ids),
        n_reference_customers=len(previous.customer_ids),
        feature_psi=psi,
        segment_share_shift=share_shift(
            segment_shares(now.segment_ids), segment_shares(previous.segment_ids)
        ),
        kept_share=kept,
        n_customers_in_both=n_both,
        centroid_movement=centroid_movement(segment_centres(now), segment_centres(previous)),
        notes=tuple(notes),
    )
