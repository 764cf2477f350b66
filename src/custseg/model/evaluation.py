"""Evidence for choosing k: quality, stability and business constraints per number of segments.

Every k is fitted on the rows a run fits on (``fit_rows``: every customer, or the run's
reproducible sample of ``fit_sample_size`` customers, see :func:`custseg.model.fitting.fit_rows`),
then every customer is assigned to the nearest centroid, and each k is scored on

- silhouette (on a sample of ``silhouette_sample_size`` customers: the full score is quadratic in
  the number of customers), Davies-Bouldin and inertia, over every customer as a run's
  ``evaluation_metrics.json`` measures them;
- bootstrap stability: ``n_bootstrap`` random subsamples of the fitted rows (``sample_fraction``
  of them, drawn without replacement); on each, Lloyd's steps restart from the k's fitted
  centroids until no row changes cluster, every fitted row is assigned to the moved
  centroids, and that assignment is compared with the fit's by adjusted Rand index (mean and
  worst): how far the segments move when a fifth of the customers is left out;
- the smallest segment's share of customers, and whether every segment's name is supported by
  its profile (see :func:`custseg.model.name_checks.check_names`).

The work shared between the k is done once: the scaled matrix (the scaling depends only on the
fitted rows), the silhouette sample's distances (:func:`custseg.model.metrics.shared_silhouettes`)
and the bootstrap subsamples.

When k is chosen automatically, only the k whose smallest segment holds at least
``min_segment_share`` of the customers and whose names are all supported are eligible; among
them the highest silhouette wins, ties going to the more stable k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import davies_bouldin_score

from custseg.catalogue import MAX_AUTO_SEGMENTS, MIN_SEGMENTS
from custseg.errors import InsufficientDataError
from custseg.model.kernels import inertia, lloyd, nearest_of_columns
from custseg.model.metrics import round_figure, shared_silhouettes
from custseg.model.rhythm import Rhythm
from custseg.model.segmenter import CustomerSegmenter
from custseg.settings import (
    BOOTSTRAP_FRACTION,
    DEFAULTS,
    N_BOOTSTRAP,
    N_INIT,
    SILHOUETTE_SAMPLE_SIZE,
)

#: Every number of segments k is chosen from (see ``MAX_AUTO_SEGMENTS``).
ALL_KS: tuple[int, ...] = tuple(range(MIN_SEGMENTS, MAX_AUTO_SEGMENTS + 1))
_DIGITS = 6


@dataclass(frozen=True)
class StabilityResult:
    """Adjusted Rand index of subsample refits against the full fit."""

    ari_mean: float
    ari_worst: float
    n_draws: int
    sample_fraction: float


@dataclass(frozen=True)
class KEvaluation:
    """The evidence for one number of segments."""

    k: int
    silhouette: float | None
    davies_bouldin: float | None
    inertia: float
    stability_ari_mean: float
    stability_ari_worst: float
    smallest_segment_share: float
    segment_names: list[str]
    unsupported_names: list[str]
    eligible: bool


@dataclass(frozen=True)
class KSelection:
    """Evaluations for a range of k and the k chosen under the business constraint."""

    evaluations: list[KEvaluation]
    chosen_k: int | None
    min_segment_share: float
    n_customers: int
    reason: str
    # Customers every k was fitted on when they were a sample of the n_customers, else None.
    fit_sample_size: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (written to ``k_selection.json``)."""
        return {
            "chosen_k": self.chosen_k,
            "min_segment_share": self.min_segment_share,
            "n_customers": self.n_customers,
            "fit_sample_size": self.fit_sample_size,
            "reason": self.reason,
            "evaluations": [asdict(evaluation) for evaluation in self.evaluations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KSelection:
        """The selection :meth:`to_dict` wrote (other keys, such as the run id, are ignored)."""
        return cls(
            evaluations=[KEvaluation(**evaluation) for evaluation in data["evaluations"]],
            chosen_k=data["chosen_k"],
            min_segment_share=data["min_segment_share"],
            n_customers=data["n_customers"],
            reason=data["reason"],
            fit_sample_size=data.get("fit_sample_size"),
        )


def bootstrap_stability(
    X: np.ndarray,
    reference_labels: np.ndarray,
    segmenter: CustomerSegmenter,
    *,
    n_draws: int = N_BOOTSTRAP,
    sample_fraction: float = BOOTSTRAP_FRACTION,
    random_state: int = DEFAULTS.random_state,
) -> StabilityResult:
    """Refit an unfitted copy of ``segmenter`` on subsamples and compare with ``reference_labels``.

    Each draw is a full fit (initialisation included), so this measures the whole procedure;
    :func:`select_k` uses the cheaper :func:`restart_stabilities` for every k at once.

    Parameters
    ----------
    X
        Features of every customer (original units, the columns of ``FEATURES``).
    reference_labels
        Segment ids of the full fit.
    segmenter
        Its parameters are used for every refit; it is not modified.
    n_draws, sample_fraction, random_state
        Number of subsamples, their size as a share of the customers, and the seed that draws
        them.
    """
    scores = [
        adjusted_rand_index(
            reference_labels,
            CustomerSegmenter(**segmenter.get_params()).fit(X[rows]).predict(X),
        )
        for rows in bootstrap_draws(
            X.shape[0], segmenter.n_segments, n_draws, sample_fraction, random_state
        )
    ]
    return _stability(scores, sample_fraction)


def restart_stabilities(
    Z: np.ndarray,
    centroids: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    n_draws: int = N_BOOTSTRAP,
    sample_fraction: float = BOOTSTRAP_FRACTION,
    random_state: int = DEFAULTS.random_state,
) -> list[StabilityResult]:
    """Bootstrap stability of several fits of the same rows, sharing the subsamples.

    ``Z`` is the fitted rows in the scaled space, ``centroids[i]`` and ``labels[i]`` the
    centroids and labels (cluster of each row of ``Z``) of fit ``i``. On each subsample Lloyd's
    steps (:func:`custseg.model.kernels.lloyd`) restart from each fit's centroids; every row of
    ``Z`` is then assigned to the nearest moved centroid and compared with ``labels[i]`` by
    adjusted Rand index. A restart that empties a cluster scores 0 (the segments did not
    survive the subsample). The subsamples are those :func:`bootstrap_stability` draws.
    """
    n = Z.shape[0]
    scores: list[list[float]] = [[] for _ in centroids]
    by_size: dict[int, list[int]] = {}
    for i, start in enumerate(centroids):
        by_size.setdefault(_draw_size(n, start.shape[0], sample_fraction), []).append(i)
    columns = np.ascontiguousarray(Z.T)
    for members in by_size.values():
        k = centroids[members[0]].shape[0]
        for rows in bootstrap_draws(n, k, n_draws, sample_fraction, random_state):
            draw = Z[rows]
            for i in members:
                solution = lloyd(draw, centroids[i])
                if solution is None:
                    scores[i].append(0.0)
                    continue
                moved = nearest_of_columns(columns, solution[0])
                scores[i].append(adjusted_rand_index(labels[i], moved))
    return [_stability(draw_scores, sample_fraction) for draw_scores in scores]


def bootstrap_draws(
    n: int, k: int, n_draws: int, sample_fraction: float, random_state: int
) -> list[np.ndarray]:
    """The sorted row numbers of each subsample (the same for every k unless n is tiny)."""
    size = _draw_size(n, k, sample_fraction)
    rng = np.random.default_rng(random_state)
    return [np.sort(rng.choice(n, size=size, replace=False)) for _ in range(n_draws)]


def _draw_size(n: int, k: int, sample_fraction: float) -> int:
    """Rows in a subsample: ``sample_fraction`` of ``n``, and at least ``k``."""
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"sample_fraction must be in (0, 1], got {sample_fraction}")
    return max(k, int(round(sample_fraction * n)))


def adjusted_rand_index(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (non-negative integers), exactly as
    :func:`sklearn.metrics.adjusted_rand_score` computes it (pair counts in Python integers),
    from a contingency table counted with ``np.bincount``."""
    a = np.asarray(labels_a, dtype=np.int64)
    b = np.asarray(labels_b, dtype=np.int64)
    width = int(b.max()) + 1
    table = np.bincount(a * width + b).astype(np.int64)
    n = int(a.shape[0])
    sum_squares = int((table**2).sum())
    table = np.pad(table, (0, (-table.shape[0]) % width)).reshape(-1, width)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    tp = sum_squares - n
    fp = int(table.dot(cols).sum()) - sum_squares
    fn = int(table.T.dot(rows).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def _stability(scores: Sequence[float], sample_fraction: float) -> StabilityResult:
    """Mean and worst of the draws' scores, rounded for the JSON file."""
    return StabilityResult(
        ari_mean=round(float(np.mean(scores)), _DIGITS),
        ari_worst=round(float(np.min(scores)), _DIGITS),
        n_draws=len(scores),
        sample_fraction=sample_fraction,
    )


def select_k(
    X: np.ndarray,
    ks: Sequence[int] = ALL_KS,
    *,
    fit_rows: np.ndarray | None = None,
    random_state: int = DEFAULTS.random_state,
    n_init: int = N_INIT,
    n_bootstrap: int = N_BOOTSTRAP,
    sample_fraction: float = BOOTSTRAP_FRACTION,
    min_segment_share: float = DEFAULTS.min_segment_share,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
    rhythm: Rhythm | None = None,
) -> KSelection:
    """Evaluate every k in ``ks`` and choose one under the business constraint.

    Parameters
    ----------
    X
        Features of every customer (original units, the columns of ``FEATURES``).
    ks
        The numbers of segments compared.
    fit_rows
        Sorted rows of ``X`` every k is fitted on (a run's :func:`custseg.model.fitting.fit_rows`),
        None for every row. The other customers are assigned to the nearest centroid.
    rhythm
        The customers' silence in usual gaps (every row of ``X``), passed to every fit.

    Raises
    ------
    InsufficientDataError
        When there are fewer customers than the largest k.
    """
    if X.shape[0] < max(ks):
        raise InsufficientDataError(
            f"{X.shape[0]} customers cannot be split into up to {max(ks)} segments; "
            "evaluate a smaller range of k."
        )
    fitted = X if fit_rows is None else X[fit_rows]
    silence = None if rhythm is None else rhythm.rows(fit_rows).silence
    segmenters = [
        CustomerSegmenter(n_segments=k, random_state=random_state, n_init=n_init).fit(
            fitted, silence_gaps=silence
        )
        for k in ks
    ]
    # The scaling depends only on the fitted rows, so it is the same for every k.
    Z_fitted = segmenters[0].scale(fitted)
    Z = Z_fitted if fit_rows is None else segmenters[0].scale(X)
    labels = [
        segmenter.labels_ if fit_rows is None else segmenter.predict(X) for segmenter in segmenters
    ]
    silhouettes = shared_silhouettes(
        Z, labels, random_state=random_state, silhouette_sample_size=silhouette_sample_size
    )
    stabilities = restart_stabilities(
        Z_fitted,
        [segmenter.centroids_ for segmenter in segmenters],
        [segmenter.labels_ for segmenter in segmenters],
        n_draws=n_bootstrap,
        sample_fraction=sample_fraction,
        random_state=random_state,
    )
    evaluations = [
        _evaluation(segmenter, Z, segment_labels, silhouette, stability, min_segment_share)
        for segmenter, segment_labels, silhouette, stability in zip(
            segmenters, labels, silhouettes, stabilities, strict=True
        )
    ]
    eligible = [evaluation for evaluation in evaluations if evaluation.eligible]
    best = max(
        eligible,
        key=lambda e: (
            e.silhouette if e.silhouette is not None else -1.0,
            e.stability_ari_mean,
            -e.k,
        ),
        default=None,
    )
    if best is None:
        reason = (
            f"no k in {list(ks)} keeps every segment at or above {min_segment_share:.0%} "
            "of customers with all names supported by the data"
        )
    else:
        reason = (
            f"k={best.k} has the highest silhouette ({best.silhouette:.3f}) among the k whose "
            f"smallest segment holds at least {min_segment_share:.0%} of customers and whose "
            "names are all supported"
        )
    return KSelection(
        evaluations=evaluations,
        chosen_k=None if best is None else best.k,
        min_segment_share=min_segment_share,
        n_customers=int(X.shape[0]),
        fit_sample_size=None if fit_rows is None else len(fit_rows),
        reason=reason,
    )


def _evaluation(
    segmenter: CustomerSegmenter,
    Z: np.ndarray,
    labels: np.ndarray,
    silhouette: float | None,
    stability: StabilityResult,
    min_segment_share: float,
) -> KEvaluation:
    """The evidence for one k: ``labels`` is every customer's segment, ``Z`` their scaled
    features."""
    ids = np.array(segmenter.segment_ids_, dtype=np.int64)
    counts = np.bincount(labels, minlength=int(ids.max()) + 1)[ids]
    smallest = float(counts.min() / labels.shape[0])
    positions = np.searchsorted(ids, labels)
    davies_bouldin = davies_bouldin_score(Z, labels) if 1 < len(ids) < Z.shape[0] else None
    unsupported = [check.segment_name for check in segmenter.unsupported_names()]
    return KEvaluation(
        k=segmenter.n_segments,
        silhouette=round_figure(silhouette),
        davies_bouldin=round_figure(davies_bouldin),
        inertia=round_figure(inertia(Z, segmenter.centroids_, positions)),
        stability_ari_mean=stability.ari_mean,
        stability_ari_worst=stability.ari_worst,
        smallest_segment_share=round(smallest, _DIGITS),
        segment_names=[profile["segment_name"] for profile in segmenter.profiles_],
        unsupported_names=unsupported,
        eligible=smallest >= min_segment_share and not unsupported,
    )
