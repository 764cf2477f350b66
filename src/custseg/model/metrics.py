"""Quality metrics of a fitted segmentation, as a JSON-stable dict.

Floats are rounded to 10 significant digits, so the same model on the same data gives the same
JSON text even if the last bits of a float differ between BLAS builds or thread counts.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import davies_bouldin_score, silhouette_score

from custseg.settings import SILHOUETTE_SAMPLE_SIZE

__all__ = ["evaluate_segmentation"]

_SIGNIFICANT_DIGITS = 10


def evaluate_segmentation(
    X_scaled: np.ndarray,
    labels: np.ndarray,
    *,
    inertia: float,
    random_state: int,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
) -> dict:
    """Measure how well separated the segments are.

    Parameters
    ----------
    X_scaled : array-like of shape (n_customers, n_features)
        Features in the space the model clusters in (``CustomerSegmenter.scale(X)``).
    labels : array-like of shape (n_customers,)
        Segment id of each row (``CustomerSegmenter.labels_`` or ``predict(X)``).
    inertia : float
        The model's inertia (``CustomerSegmenter.inertia_``).
    random_state : int
        Seed of the silhouette subsample, for reproducibility.
    silhouette_sample_size : int, default=SILHOUETTE_SAMPLE_SIZE
        Upper bound on the rows used for the silhouette (it costs O(n^2)).

    Returns
    -------
    dict
        ``n_customers``, ``k`` (number of distinct labels), ``inertia``, ``silhouette`` (or None),
        ``silhouette_sample_size`` (rows used, or None), ``silhouette_note`` (why it is None, else
        None), ``davies_bouldin`` (or None), ``segment_counts`` and ``segment_shares`` keyed by
        segment id as a string.

    Raises
    ------
    ValueError
        If ``X_scaled`` is not 2-D or ``labels`` does not have one entry per row.
    """
    X = np.asarray(X_scaled, dtype=np.float64)
    y = np.asarray(labels).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"evaluate_segmentation needs one label per row of a 2-D matrix; got {y.shape[0]} "
            f"labels and a matrix of shape {X.shape}."
        )
    n = int(X.shape[0])
    ids, counts = np.unique(y, return_counts=True)
    k = int(ids.shape[0])

    silhouette: float | None = None
    sample_size: int | None = None
    note: str | None = None
    davies_bouldin: float | None = None
    if k < 2:
        note = f"silhouette needs at least 2 segments; the labels contain {k}."
    elif k >= n:
        note = f"silhouette needs fewer segments than customers; got {k} for {n} customers."
    else:
        sample_size = min(n, int(silhouette_sample_size))
        try:
            silhouette = float(
                silhouette_score(X, y, sample_size=sample_size, random_state=random_state)
            )
        except ValueError as exc:  # e.g. the subsample happened to hold a single segment
            silhouette, sample_size = None, None
            note = f"silhouette could not be computed on the subsample: {exc}"
        davies_bouldin = float(davies_bouldin_score(X, y))

    return {
        "n_customers": n,
        "k": k,
        "inertia": _round(float(inertia)),
        "silhouette": _round(silhouette),
        "silhouette_sample_size": sample_size,
        "silhouette_note": note,
        "davies_bouldin": _round(davies_bouldin),
        "segment_counts": {str(_plain(s)): int(c) for s, c in zip(ids, counts, strict=True)},
        "segment_shares": {
            str(_plain(s)): _round(int(c) / n) for s, c in zip(ids, counts, strict=True)
        },
    }


def _round(value: float | None) -> float | None:
    """Round to 10 significant digits (None and 0 pass through; -0.0 becomes 0.0)."""
    if value is None or value == 0 or not math.isfinite(value):
        return None if value is None else float(value) + 0.0
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}") + 0.0


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so ``str()`` gives ``"3"`` and not ``"np.int64(3)"``."""
    return value.item() if isinstance(value, np.generic) else value
