"""The training data's picture for drift: fixed bins per clustering feature, segment shares.

A model file records, under :data:`DRIFT_REFERENCE_KEY`, how the customers it was trained on
were spread: for every clustering feature (:data:`~custseg.model.features.CLUSTER_FEATURES`, in
original units) bins fixed on those customers and the share of customers in each, and the share
of customers in each segment. Later data is compared with it (:mod:`custseg.monitoring.drift`):
the bins stay where they were fixed, so a population stability index measures how the customers
moved, not how the bins did.

Bins
    The reference is every customer of the run (not only the sample K-means may be fitted on).
    The edges of a feature are its deciles (the quantiles 0.1, ..., 0.9, each a value a
    customer holds: the inverted empirical distribution function), without repeats and without
    the largest value. With edges ``e_1 < ... < e_m`` bin ``i`` (0-based) holds the values ``v``
    with ``e_i < v <= e_(i+1)``, the first bin being open below (``v <= e_1``) and the last
    open above (``v > e_m``). Every bin then holds at least one reference customer, and a
    discrete feature gets fewer bins: when half the customers ordered once, ``count_orders``
    has one bin for all of them.

Shares are counts divided by the number of customers, stored as exact JSON floats; the model
file's integrity hash covers them. A model file written before they were recorded has none:
:func:`drift_reference_of` then returns None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from custseg.errors import ModelIntegrityError
from custseg.model.features import CLUSTER_FEATURES, FEATURES

#: The model document's key for the reference.
DRIFT_REFERENCE_KEY = "drift_reference"
#: Quantiles whose values become the bin edges.
DECILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: How the stored bins read, recorded beside them.
BIN_RULE = (
    "deciles of all customers of the training run (inverted empirical distribution), without "
    "repeats or the largest value; bin i holds edges[i-1] < value <= edges[i], the first and "
    "last bins open-ended"
)


@dataclass(frozen=True)
class FeatureBins:
    """Fixed bins of one feature and the reference share of customers in each."""

    # A clustering feature (custseg.model.features.CLUSTER_FEATURES), in original units.
    feature: str
    # Inner edges, strictly increasing; there is one bin more than edges.
    edges: tuple[float, ...]
    # Share of the reference customers in each bin (sums to 1).
    reference_shares: tuple[float, ...]

    @property
    def n_bins(self) -> int:
        return len(self.edges) + 1

    def bin_index(self, values: np.ndarray) -> np.ndarray:
        """The bin of each value: ``i`` such that ``edges[i-1] < value <= edges[i]``."""
        return np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="left")

    def shares_of(self, values: np.ndarray) -> np.ndarray:
        """Share of ``values`` in each bin (counts over their number).

        Raises
        ------
        ValueError
            If ``values`` is empty (a share of no customers is undefined).
        """
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            raise ValueError(f"no values of {self.feature} to bin")
        counts = np.bincount(self.bin_index(values), minlength=self.n_bins)
        return counts / values.size

    def bounds(self) -> list[tuple[float | None, float | None]]:
        """``(lower, upper)`` of every bin, None for an open end."""
        lowers: list[float | None] = [None, *self.edges]
        uppers: list[float | None] = [*self.edges, None]
        return list(zip(lowers, uppers, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "edges": list(self.edges),
            "reference_shares": list(self.reference_shares),
        }


@dataclass(frozen=True)
class DriftReference:
    """How the training customers were spread: bins per clustering feature, segment shares."""

    # Customers the reference was taken on (every customer of the training run).
    n_customers: int
    # One entry per clustering feature, in the order of CLUSTER_FEATURES.
    feature_bins: tuple[FeatureBins, ...]
    # Share of the reference customers in each segment id of the model (sums to 1).
    segment_shares: Mapping[int, float]

    def bins_of(self, feature: str) -> FeatureBins:
        """The bins of ``feature``."""
        for bins in self.feature_bins:
            if bins.feature == feature:
                return bins
        raise KeyError(feature)

    def to_dict(self) -> dict[str, Any]:
        """JSON types, as the model file stores them."""
        return {
            "bin_rule": BIN_RULE,
            "n_customers": self.n_customers,
            "features": [bins.to_dict() for bins in self.feature_bins],
            "segment_shares": [
                {"segment_id": segment_id, "share": share}
                for segment_id, share in sorted(self.segment_shares.items())
            ],
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> DriftReference:
        """Read :meth:`to_dict` output back.

        Raises
        ------
        ModelIntegrityError
            If it is malformed: other features than :data:`CLUSTER_FEATURES`, edges not
            increasing, shares that do not match the bins, are negative or do not sum to 1.
        """
        try:
            feature_bins = tuple(
                _checked_bins(
                    FeatureBins(
                        feature=str(item["feature"]),
                        edges=tuple(float(edge) for edge in item["edges"]),
                        reference_shares=tuple(float(s) for s in item["reference_shares"]),
                    )
                )
                for item in stored["features"]
            )
            if tuple(bins.feature for bins in feature_bins) != CLUSTER_FEATURES:
                raise ValueError(
                    f"bins of {[bins.feature for bins in feature_bins]}, expected "
                    f"{list(CLUSTER_FEATURES)}"
                )
            segment_shares = {
                int(item["segment_id"]): float(item["share"]) for item in stored["segment_shares"]
            }
            _check_shares(tuple(segment_shares.values()), "segment shares")
            n_customers = stored["n_customers"]
            if isinstance(n_customers, bool) or not isinstance(n_customers, int) or n_customers < 1:
                raise ValueError(f"n_customers {n_customers!r} is not a positive whole number")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(
                f"The model's {DRIFT_REFERENCE_KEY} is malformed ({type(exc).__name__}: {exc}). "
                "Retrain the model with this version of custseg."
            ) from exc
        return cls(n_customers, feature_bins, segment_shares)


def fit_feature_bins(feature: str, values: np.ndarray) -> FeatureBins:
    """Fix the bins of ``feature`` on ``values`` (see the module docstring for the rule).

    Parameters
    ----------
    feature : str
        Name recorded with the bins.
    values : array-like of shape (n,)
        The reference customers' values, original units, at least one.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError(f"no values of {feature} to fix bins on")
    deciles = np.unique(np.quantile(values, DECILES, method="inverted_cdf"))
    # The largest value as an edge would leave the last bin (> it) empty.
    edges = tuple(float(edge) + 0.0 for edge in deciles[deciles < values.max()])
    unfilled = FeatureBins(feature, edges, ())
    shares = tuple(float(share) for share in unfilled.shares_of(values))
    return FeatureBins(feature, edges, shares)


def fit_drift_reference(
    matrix: np.ndarray, segment_labels: np.ndarray, segment_ids: Sequence[int]
) -> DriftReference:
    """The reference of a training run.

    Parameters
    ----------
    matrix : ndarray of shape (n_customers, len(FEATURES))
        Every customer of the run, original units (the columns of :data:`FEATURES`).
    segment_labels : ndarray of shape (n_customers,)
        Each customer's segment id.
    segment_ids : sequence of int
        The model's segment ids (a segment without customers gets share 0).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    labels = np.asarray(segment_labels)
    if matrix.ndim != 2 or matrix.shape[1] != len(FEATURES) or labels.shape != matrix.shape[:1]:
        raise ValueError(
            f"fit_drift_reference needs a (n, {len(FEATURES)}) matrix and n labels; got "
            f"{matrix.shape} and {labels.shape}"
        )
    n_customers = matrix.shape[0]
    feature_bins = tuple(
        fit_feature_bins(feature, matrix[:, FEATURES.index(feature)])
        for feature in CLUSTER_FEATURES
    )
    shares = {int(sid): int(np.count_nonzero(labels == sid)) / n_customers for sid in segment_ids}
    return DriftReference(n_customers, feature_bins, shares)


def drift_reference_of(document: Mapping[str, Any]) -> DriftReference | None:
    """The reference a model document records; None when it was written before references
    were recorded.

    Raises
    ------
    ModelIntegrityError
        If the stored reference is malformed.
    """
    stored = document.get(DRIFT_REFERENCE_KEY)
    if stored is None:
        return None
    if not isinstance(stored, Mapping):
        raise ModelIntegrityError(
            f"The model's {DRIFT_REFERENCE_KEY} is not an object. Retrain the model."
        )
    return DriftReference.from_dict(stored)


def _checked_bins(bins: FeatureBins) -> FeatureBins:
    edges = np.asarray(bins.edges, dtype=np.float64)
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges of {bins.feature} are not finite and strictly increasing")
    if len(bins.reference_shares) != bins.n_bins:
        raise ValueError(
            f"{bins.feature} has {bins.n_bins} bins but {len(bins.reference_shares)} shares"
        )
    _check_shares(bins.reference_shares, f"shares of {bins.feature}")
    return bins


def _check_shares(shares: Sequence[float], what: str) -> None:
    values = np.asarray(shares, dtype=np.float64)
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{what} are not shares")
    if abs(float(values.sum()) - 1.0) > 1e-9:
        raise ValueError(f"{what} sum to {float(values.sum())!r}, not 1")
