"""Where K-means starts: from the naming anchors (the default), or from k-means++.

- ``"anchors"``: one *anchor* per segment name, the mean of the customers whose naming score for
  that name is in the top 10% (:func:`custseg.model.naming.score_matrix`). With five segments
  Lloyd's iterations start from the five anchors of the original guide's names; with k < 5
  every combination of k of them is tried, with k > 5 the five plus every combination of
  k - 5 anchors of the wider catalogue, and the converged solution with the lowest inertia is
  kept. No random numbers are
  involved, so the result does not depend on ``random_state``. It is also more stable under
  resampling (real Marketing Insights data, k=5, thirty 80% subsamples: adjusted Rand index
  against the full fit 0.93 mean and 0.82 worst, against 0.80 and 0.47 for k-means++ on the
  former four-column space) and finds the planted archetypes of :mod:`custseg.sample`.
- ``"k-means++"``: ``sklearn.cluster.KMeans(n_init=n_init, random_state=random_state)``. It
  reaches a lower inertia, but lower inertia is not the goal: on the planted data it splits the
  occasional shoppers by recency and merges champions with loyal customers (about 63% named as
  planted, against over 99% from the anchors).

Both are finished with :func:`custseg.model.kernels.lloyd` steps until no customer changes
cluster.
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.cluster import KMeans

from custseg.catalogue import ORIGINAL_IDS, WIDER_IDS
from custseg.errors import SegmentationError
from custseg.model.kernels import inertia, lloyd
from custseg.model.naming import score_matrix

#: Accepted values of the segmenter's ``init`` parameter.
INITS: tuple[str, ...] = ("anchors", "k-means++")
# An anchor is the mean of the customers whose score for its name reaches this quantile.
ANCHOR_QUANTILE = 0.9


def anchors(Z: np.ndarray) -> np.ndarray:
    """One starting centroid per segment id: the mean of the top decile of that name's score.

    Row ``s`` is the mean of the customers whose naming score for segment id ``s`` is at least
    the 90% quantile of that score, so it sits where the clearest examples of the name are.
    """
    scores = score_matrix(Z)
    points = np.empty((scores.shape[1], Z.shape[1]), dtype=np.float64)
    for s in range(scores.shape[1]):
        top = scores[:, s] >= np.quantile(scores[:, s], ANCHOR_QUANTILE)
        points[s] = Z[top].mean(axis=0)
    return points


def fit_from_anchors(Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Lloyd from the anchors; over several starts the lowest inertia wins.

    With k <= 5 the starts are every k-subset of the five anchors of the original guide's
    names; with k > 5 they are those five plus every (k - 5)-subset of the wider catalogue's
    anchors. Subsets are tried in :func:`itertools.combinations` order of segment ids, and a
    later subset must have a strictly lower inertia to win, so ties go to the first. A start
    whose iterations empty a cluster is skipped, and so is a start whose iterations reach an
    assignment an earlier start went through (it would end exactly as that one did, which it
    cannot beat). Returns None when every start was skipped.
    """
    starts = anchors(Z)
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_inertia = np.inf
    seen: set[bytes] = set()
    for subset in anchor_subsets(k):
        solution = lloyd(Z, starts[subset], seen)
        if solution is None:
            continue
        total = inertia(Z, *solution)
        if total < best_inertia:
            best, best_inertia = solution, total
    return best


def anchor_subsets(k: int) -> list[list[int]]:
    """The segment ids whose anchors start each of :func:`fit_from_anchors`' runs, in order."""
    if k <= len(ORIGINAL_IDS):
        return [list(c) for c in itertools.combinations(ORIGINAL_IDS, k)]
    return [
        [*ORIGINAL_IDS, *extra]
        for extra in itertools.combinations(WIDER_IDS, k - len(ORIGINAL_IDS))
    ]


def fit_kmeans_plus_plus(
    Z: np.ndarray, k: int, n_init: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's K-means with k-means++ restarts, finished by Lloyd's steps (exact means)."""
    km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state)
    km.fit(Z)
    solution = lloyd(Z, np.asarray(km.cluster_centers_, dtype=np.float64))
    if solution is None:
        raise SegmentationError(
            f"At least one of the {k} K-means clusters received no customers; the data does not "
            f"support {k} segments. Lower n_segments or provide more varied data."
        )
    return solution
