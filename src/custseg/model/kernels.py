"""The numerical kernels of K-means, in plain numpy: nearest centroid, Lloyd's steps, inertia.

They depend only on the data and the starting centroids (no threads, no random numbers), so the
same input gives bit-identical centroids and labels on any machine with the same libraries, and
the labels of a fit are exactly the nearest-centroid rule that ``predict`` applies.
"""

from __future__ import annotations

import numpy as np

from custseg.errors import SegmentationError

# Lloyd steps from an initialisation; after scikit-learn's K-means it usually needs 1-3, from the
# anchors a few dozen.
MAX_LLOYD_STEPS = 300


def nearest(Z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Row index of the nearest centroid; ``argmin`` takes the first, i.e. the lowest id."""
    d = np.empty((Z.shape[0], centroids.shape[0]), dtype=np.float64)
    for j, c in enumerate(centroids):
        diff = Z - c
        d[:, j] = np.einsum("ij,ij->i", diff, diff)
    return np.argmin(d, axis=1)


def inertia(Z: np.ndarray, centroids: np.ndarray, positions: np.ndarray) -> float:
    """Sum of squared distances of the rows of ``Z`` to their centroid."""
    diffs = Z - centroids[positions]
    return float(np.einsum("ij,ij->", diffs, diffs))


def lloyd(Z: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Plain-numpy Lloyd iterations from ``centers`` until the assignment no longer changes.

    Each step assigns every row to its nearest centroid and moves each centroid to the numpy mean
    of its members, for at most 300 steps. Used both from the anchors and to finish
    scikit-learn's K-means, which stops within a tolerance and sums with OpenMP threads (so its
    centroids can differ in the last bits with the number of threads). The result depends only
    on the data and the start: byte-identical model files on any machine with the same
    libraries, and labels that are exactly the nearest-centroid rule used by ``predict``. The
    steps can only lower the inertia.

    Returns
    -------
    tuple or None
        ``(centroids, positions)`` with ``centroids`` of shape (k, n_features) and
        ``positions`` the row index of each point's centroid (equal to
        ``nearest(Z, centroids)``); None if a cluster loses all its members.
    """
    k = centers.shape[0]
    if not np.all(np.isfinite(centers)):
        raise SegmentationError(
            "K-means produced non-finite centroids; check the feature table for extreme values."
        )
    positions = nearest(Z, centers)
    for _ in range(MAX_LLOYD_STEPS):
        if np.any(np.bincount(positions, minlength=k) == 0):
            return None
        centers = np.vstack([Z[positions == j].mean(axis=0) for j in range(k)])
        new_positions = nearest(Z, centers)
        if np.array_equal(new_positions, positions):
            return centers, positions
        positions = new_positions
    # Not converged within the step limit (rare): the labels are still the nearest-centroid
    # rule of the returned centroids, which are the means of the previous step's members.
    if np.any(np.bincount(positions, minlength=k) == 0):
        return None
    return centers, positions
