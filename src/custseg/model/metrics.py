"""Quality metrics of a fitted segmentation, as a JSON-stable dict.

Floats are rounded to 10 significant digits, so the same model on the same data gives the same
JSON text even if the last bits of a float differ between BLAS builds or thread counts.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.metrics.pairwise import euclidean_distances

from custseg.settings import SILHOUETTE_SAMPLE_SIZE

__all__ = ["evaluate_segmentation", "round_figure", "shared_silhouettes"]

_SIGNIFICANT_DIGITS = 10
# Rows of the silhouette sample whose distances to the whole sample are held at once (about
# 1,000 x 10,000 doubles: 80 MB).
_SILHOUETTE_CHUNK_ROWS = 1_000


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
        "inertia": round_figure(float(inertia)),
        "silhouette": round_figure(silhouette),
        "silhouette_sample_size": sample_size,
        "silhouette_note": note,
        "davies_bouldin": round_figure(davies_bouldin),
        "segment_counts": {str(_plain(s)): int(c) for s, c in zip(ids, counts, strict=True)},
        "segment_shares": {
            str(_plain(s)): round_figure(int(c) / n) for s, c in zip(ids, counts, strict=True)
        },
    }


def shared_silhouettes(
    X_scaled: np.ndarray,
    labelings: list[np.ndarray],
    *,
    random_state: int,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
) -> list[float | None]:
    """The silhouette of several labelings of the same rows, on the same random sample.

    ``silhouette_score(X_scaled, labels, sample_size=..., random_state=...)`` draws the same
    sample rows for every labeling of ``X_scaled`` (its permutation depends only on the number
    of rows and the seed), so the distances between the sample's rows are computed once, a chunk
    of rows at a time, and every labeling's per-cluster distance sums come from them. The
    values equal scikit-learn's up to the order the distances are added in (relative
    differences around 1e-15), so they agree with :func:`evaluate_segmentation`'s to its 10
    significant digits. None for a labeling whose sample holds a single segment (or as many
    segments as rows).
    """
    X = np.asarray(X_scaled, dtype=np.float64)
    n = X.shape[0]
    rows = np.random.RandomState(random_state).permutation(n)[: min(n, silhouette_sample_size)]
    sample = X[rows]
    m = sample.shape[0]
    encoded: list[np.ndarray | None] = []
    for labels in labelings:
        _, codes = np.unique(np.asarray(labels).ravel()[rows], return_inverse=True)
        k = int(codes.max()) + 1 if m else 0
        encoded.append(codes if 1 < k < m else None)
    usable = [codes for codes in encoded if codes is not None]
    if not usable:
        return [None] * len(labelings)
    # One indicator column per (labeling, cluster): distance sums of all labelings in one product.
    widths = [int(codes.max()) + 1 for codes in usable]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    indicator = np.zeros((m, int(offsets[-1])), dtype=np.float64)
    for codes, offset in zip(usable, offsets[:-1], strict=True):
        indicator[np.arange(m), offset + codes] = 1.0
    sums = np.empty((m, indicator.shape[1]), dtype=np.float64)
    for start in range(0, m, _SILHOUETTE_CHUNK_ROWS):
        stop = min(m, start + _SILHOUETTE_CHUNK_ROWS)
        distances = euclidean_distances(sample[start:stop], sample)
        distances[np.arange(stop - start), np.arange(start, stop)] = 0.0
        sums[start:stop] = distances @ indicator
    scores = iter(
        _mean_silhouette(sums[:, offsets[i] : offsets[i + 1]], codes)
        for i, codes in enumerate(usable)
    )
    return [None if codes is None else next(scores) for codes in encoded]


def _mean_silhouette(cluster_sums: np.ndarray, codes: np.ndarray) -> float:
    """Mean silhouette from each row's distance sum to every cluster (scikit-learn's formula)."""
    freqs = np.bincount(codes, minlength=cluster_sums.shape[1]).astype(np.float64)
    rows = np.arange(codes.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = cluster_sums[rows, codes] / (freqs[codes] - 1)
        means = cluster_sums / freqs
        means[rows, codes] = np.inf
        inter = means.min(axis=1)
        values = (inter - intra) / np.maximum(intra, inter)
    return float(np.mean(np.nan_to_num(values)))


def round_figure(value: float | None) -> float | None:
    """Round to 10 significant digits (None and 0 pass through; -0.0 becomes 0.0)."""
    if value is None or value == 0 or not math.isfinite(value):
        return None if value is None else float(value) + 0.0
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}") + 0.0


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so ``str()`` gives ``"3"`` and not ``"np.int64(3)"``."""
    return value.item() if isinstance(value, np.generic) else value
