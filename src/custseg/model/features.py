"""The feature matrix the segmenter reads, and the clustering space it works in.

The matrix has one row per customer and the columns of :data:`FEATURES`, in original units (the
``customer_features`` dbt model's columns of the same names). Lifetime revenue is *not* a
clustering dimension: it is orders times order value, so ``log1p(revenue)`` is almost
``log1p(orders) + log1p(order value)`` and would count both a second time. It stays in the
input, in the segment profiles and in the name checks. The clustering columns
(:data:`CLUSTER_FEATURES`) are transformed by :data:`TRANSFORMS` (``log1p`` on the heavy-tailed
orders and order value) before they are standardized.
"""

from __future__ import annotations

import numpy as np

from custseg.errors import InputDataError, InsufficientDataError

#: Column order of the feature matrix (original units).
FEATURES: tuple[str, ...] = (
    "recency_days",
    "count_orders",
    "lifetime_revenue",
    "avg_order_value",
)

#: The columns K-means clusters on (revenue is left out: it is orders times order value).
CLUSTER_FEATURES: tuple[str, ...] = ("recency_days", "count_orders", "avg_order_value")

#: Transform applied to each clustering feature before standardizing.
TRANSFORMS: dict[str, str] = {
    "recency_days": "identity",
    "count_orders": "log1p",
    "avg_order_value": "log1p",
}

CLUSTER_COLUMNS = np.array([FEATURES.index(f) for f in CLUSTER_FEATURES])
_LOG1P = np.array([TRANSFORMS[f] == "log1p" for f in CLUSTER_FEATURES])


def validate_features(X: object, method: str) -> np.ndarray:
    """Return ``X`` as a float64 (n, 4) array, or raise InputDataError naming the problem.

    ``method`` names the caller in the message (``fit``, ``predict``...).
    """
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"{method}() needs a numeric matrix with columns {', '.join(FEATURES)}; the input "
            f"could not be converted to numbers ({exc})."
        ) from exc
    if A.ndim != 2 or A.shape[1] != len(FEATURES):
        raise InputDataError(
            f"{method}() needs a 2-D matrix with {len(FEATURES)} columns "
            f"({', '.join(FEATURES)}); got shape {A.shape}. Select exactly these columns, in "
            "this order."
        )
    if A.shape[0] == 0:
        raise InsufficientDataError(
            f"{method}() received no customers (0 rows). Check that the feature table is populated."
        )
    problems = []
    not_finite = ~np.isfinite(A)
    for j in np.flatnonzero(not_finite.any(axis=0)):
        problems.append(f"{FEATURES[j]}: {int(not_finite[:, j].sum())} row(s) NaN or infinite")
    negative = np.where(not_finite, False, A < 0)
    for j in np.flatnonzero(negative.any(axis=0)):
        problems.append(f"{FEATURES[j]}: {int(negative[:, j].sum())} row(s) negative")
    if problems:
        raise InputDataError(
            f"{method}() found invalid feature values ({'; '.join(problems)}). Every feature "
            "must be a finite number >= 0; fix or exclude these customers in the feature table "
            "(e.g. recency is measured from an as-of date after the last purchase)."
        )
    return A


def transform_raw(X: np.ndarray) -> np.ndarray:
    """Select :data:`CLUSTER_FEATURES` from a (n, 4) matrix and apply :data:`TRANSFORMS`."""
    out = X[:, CLUSTER_COLUMNS].copy()
    out[:, _LOG1P] = np.log1p(out[:, _LOG1P])
    return out


def inverse_transform(Xt: np.ndarray) -> np.ndarray:
    """Undo the transforms of :func:`transform_raw` (clustering features, original units)."""
    out = np.array(Xt, dtype=np.float64)
    out[:, _LOG1P] = np.expm1(out[:, _LOG1P])
    return out
