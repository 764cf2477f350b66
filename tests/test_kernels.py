"""The K-means kernels, the anchors' starts and the shared silhouette give exactly what the
plain formulas give."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import silhouette_score

from custseg.model.initialisation import anchor_subsets, anchors, fit_from_anchors
from custseg.model.kernels import cluster_means, inertia, lloyd, nearest, squared_distances
from custseg.model.metrics import round_figure, shared_silhouettes
from custseg.model.segmenter import has_distinct_rows


def einsum_distances(Z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The former kernel: one einsum per centroid over the rows' differences."""
    return np.stack([np.einsum("ij,ij->i", Z - c, Z - c) for c in centroids])


def test_distances_and_nearest_are_bit_identical_to_the_einsum_kernel() -> None:
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(5000, 3)) * [1.0, 30.0, 0.01]
    centroids = rng.normal(size=(7, 3))
    expected = einsum_distances(Z, centroids)
    assert np.array_equal(squared_distances(np.ascontiguousarray(Z.T), centroids), expected)
    assert np.array_equal(nearest(Z, centroids), np.argmin(expected, axis=0))
    # Other widths take the general path.
    wide = rng.normal(size=(100, 4))
    assert np.array_equal(
        squared_distances(np.ascontiguousarray(wide.T), wide[:3]), einsum_distances(wide, wide[:3])
    )


def test_nearest_gives_ties_to_the_first_centroid() -> None:
    Z = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    centroids = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    assert nearest(Z, centroids).tolist() == [0, 0]


def test_cluster_means_are_bit_identical_to_the_members_mean() -> None:
    rng = np.random.default_rng(12)
    Z = rng.lognormal(size=(3000, 3))
    positions = rng.integers(0, 6, 3000)
    expected = np.vstack([Z[positions == j].mean(axis=0) for j in range(6)])
    assert np.array_equal(cluster_means(np.ascontiguousarray(Z.T), positions, 6), expected)


def test_shared_silhouettes_are_scikit_learns_on_the_same_sample() -> None:
    rng = np.random.default_rng(13)
    Z = rng.normal(size=(1500, 3))
    labelings = [nearest(Z, Z[:k]) for k in (2, 3, 5)] + [np.zeros(1500, dtype=np.int64)]
    shared = shared_silhouettes(Z, labelings, random_state=42, silhouette_sample_size=700)
    for labels, value in zip(labelings[:3], shared[:3], strict=True):
        expected = silhouette_score(Z, labels, sample_size=700, random_state=42)
        assert round_figure(value) == round_figure(expected)
    assert shared[3] is None, "a single segment has no silhouette"


def test_a_start_reaching_an_earlier_starts_assignment_is_skipped() -> None:
    rng = np.random.default_rng(14)
    Z = np.vstack([rng.normal(loc, 0.3, size=(200, 3)) for loc in (-3.0, 0.0, 3.0)])
    start = Z[[0, 200, 400]]
    seen: set[bytes] = set()
    first = lloyd(Z, start, seen)
    assert first is not None and seen, "the run records its assignments"
    # The same start (or any start passing through one of those assignments) ends the same way.
    assert lloyd(Z, start.copy(), seen) is None
    assert lloyd(Z, start.copy()) is not None, "without `seen` nothing is skipped"


def test_fit_from_anchors_keeps_the_best_start_with_and_without_skipping() -> None:
    rng = np.random.default_rng(15)
    Z = rng.normal(size=(3000, 3)) * [1.0, 2.0, 0.5]
    for k in (2, 3, 4, 6, 7):
        centers, positions = fit_from_anchors(Z, k)
        best = min(
            (lloyd(Z, anchors(Z)[subset]) for subset in anchor_subsets(k)),
            key=lambda solution: np.inf if solution is None else inertia(Z, *solution),
        )
        assert best is not None
        assert np.array_equal(centers, best[0]) and np.array_equal(positions, best[1])


def test_has_distinct_rows_counts_beyond_the_first_rows() -> None:
    rows = np.zeros((3000, 3))
    assert not has_distinct_rows(rows, 2)
    rows[2500] = 1.0
    assert has_distinct_rows(rows, 2) and not has_distinct_rows(rows, 3)
