"""The numerical kernels of K-means, in plain numpy: nearest centroid, Lloyd's steps, inertia.

They depend only on the data and the starting centroids (no threads, no random numbers), so the
same input gives bit-identical centroids and labels on any machine with the same libraries, and
the labels of a fit are exactly the nearest-centroid rule that ``predict`` applies.
"""

from __future__ import annotations

import hashlib

import numpy as np

from custseg.errors import SegmentationError

# Lloyd steps from an initialisation; after scikit-learn's K-means it usually needs 1-3, from the
# anchors a few dozen.
MAX_LLOYD_STEPS = 300


def nearest(Z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Row index of the nearest centroid; on a tie the first, i.e. the lowest id."""
    return nearest_of_columns(np.ascontiguousarray(Z.T), centroids)


def nearest_of_columns(columns: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """:func:`nearest` of the transposed data (one contiguous row per feature).

    A running minimum over the centroids, replaced only by a strictly closer one, so ties go to
    the first centroid, as ``np.argmin`` does.
    """
    distances = squared_distances(columns, centroids)
    best = distances[0].copy()
    positions = np.zeros(columns.shape[1], dtype=np.intp)
    for j in range(1, centroids.shape[0]):
        closer = distances[j] < best
        positions[closer] = j
        np.minimum(best, distances[j], out=best)
    return positions


def squared_distances(columns: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row to every centroid, shape (k, n_rows).

    ``columns`` is the data transposed (one contiguous row per feature), so each term is a
    vectorised pass over one feature. With three features the terms are added as
    ``(d0 + d2) + d1``, the order ``np.einsum("ij,ij->i", diff, diff)`` adds them in, so the
    distances (and every fitted model) are bit-identical to the former einsum kernel.
    """
    n_features, n_rows = columns.shape
    if n_features != 3:
        rows = np.ascontiguousarray(columns.T)
        differences = (rows - c for c in centroids)
        return np.stack([np.einsum("ij,ij->i", diff, diff) for diff in differences])
    d = np.empty((centroids.shape[0], n_rows), dtype=np.float64)
    term = np.empty(n_rows, dtype=np.float64)
    for j, c in enumerate(centroids):
        np.subtract(columns[0], c[0], out=d[j])
        np.multiply(d[j], d[j], out=d[j])
        np.subtract(columns[2], c[2], out=term)
        np.multiply(term, term, out=term)
        d[j] += term
        np.subtract(columns[1], c[1], out=term)
        np.multiply(term, term, out=term)
        d[j] += term
    return d


def cluster_means(columns: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """Mean of the rows of each of the ``k`` clusters, shape (k, n_features).

    ``np.bincount`` adds each cluster's values in row order, as ``Z[members].mean(axis=0)`` does,
    so the means are bit-identical to it, at one pass per feature instead of one per cluster.
    """
    counts = np.bincount(positions, minlength=k).astype(np.float64)
    sums = np.stack([np.bincount(positions, weights=column, minlength=k) for column in columns])
    return np.ascontiguousarray((sums / counts).T)


def inertia(Z: np.ndarray, centroids: np.ndarray, positions: np.ndarray) -> float:
    """Sum of squared distances of the rows of ``Z`` to their centroid."""
    diffs = Z - centroids[positions]
    return float(np.einsum("ij,ij->", diffs, diffs))


def lloyd(
    Z: np.ndarray, centers: np.ndarray, seen: set[bytes] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Plain-numpy Lloyd iterations from ``centers`` until the assignment no longer changes.

    Each step assigns every row to its nearest centroid and moves each centroid to the numpy mean
    of its members, for at most 300 steps. Used both from the anchors and to finish
    scikit-learn's K-means, which stops within a tolerance and sums with OpenMP threads (so its
    centroids can differ in the last bits with the number of threads). The result depends only
    on the data and the start: byte-identical model files on any machine with the same
    libraries, and labels that are exactly the nearest-centroid rule used by ``predict``. The
    steps can only lower the inertia.

    ``seen`` holds a digest of every assignment earlier runs on the same ``Z`` went through
    (each run adds its own). From an assignment the steps are determined, so a run that reaches
    one of them ends where that earlier run ended: it stops there and returns None, since it
    cannot be better than the earlier run (:func:`custseg.model.initialisation.fit_from_anchors`
    keeps a later start only when its inertia is strictly lower).

    Returns
    -------
    tuple or None
        ``(centroids, positions)`` with ``centroids`` of shape (k, n_features) and
        ``positions`` the row index of each point's centroid (equal to
        ``nearest(Z, centroids)``); None if a cluster loses all its members, or the run
        reached an assignment in ``seen``.
    """
    if not np.all(np.isfinite(centers)):
        raise SegmentationError(
            "K-means produced non-finite centroids; check the feature table for extreme values."
        )
    visited: list[bytes] = []
    try:
        return _lloyd_steps(np.ascontiguousarray(Z.T), centers, seen, visited)
    finally:
        if seen is not None:
            seen.update(visited)


def _lloyd_steps(
    columns: np.ndarray,
    centers: np.ndarray,
    seen: set[bytes] | None,
    visited: list[bytes],
) -> tuple[np.ndarray, np.ndarray] | None:
    """The steps of :func:`lloyd` on the transposed data; ``visited`` collects the digests of
    its assignments when there is a ``seen`` to compare them with."""
    k = centers.shape[0]
    positions = nearest_of_columns(columns, centers)
    for _ in range(MAX_LLOYD_STEPS):
        if seen is not None:
            digest = hashlib.blake2b(positions, digest_size=16).digest()
            if digest in seen:
                return None
            visited.append(digest)
        if np.any(np.bincount(positions, minlength=k) == 0):
            return None
        centers = cluster_means(columns, positions, k)
        new_positions = nearest_of_columns(columns, centers)
        if np.array_equal(new_positions, positions):
            return centers, positions
        positions = new_positions
    # Not converged within the step limit (rare): the labels are still the nearest-centroid
    # rule of the returned centroids, which are the means of the previous step's members.
    if np.any(np.bincount(positions, minlength=k) == 0):
        return None
    return centers, positions
