"""Evidence for choosing k: quality, stability and business constraints per number of segments.

For each k the segmenter is fitted on all customers and scored on

- silhouette (on a sample: the full score is quadratic in the number of customers),
  Davies-Bouldin and inertia;
- bootstrap stability: refit on ``n_bootstrap`` random subsamples (``sample_fraction`` of the
  customers, drawn without replacement), predict every customer, and compare with the full fit
  by adjusted Rand index (mean and worst);
- the smallest segment's share of customers, and whether every segment's name is supported by
  its profile (see :func:`custseg.model.name_checks.check_names`).

When k is chosen automatically, only the k whose smallest segment holds at least
``min_segment_share`` of the customers and whose names are all supported are eligible; among
them the highest silhouette wins, ties going to the more stable k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from custseg.catalogue import MAX_AUTO_SEGMENTS, MIN_SEGMENTS
from custseg.errors import InsufficientDataError
from custseg.model.metrics import evaluate_segmentation
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

    def to_dict(self) -> dict:
        """JSON-ready form (written to ``k_selection.json``)."""
        return {
            "chosen_k": self.chosen_k,
            "min_segment_share": self.min_segment_share,
            "n_customers": self.n_customers,
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
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"sample_fraction must be in (0, 1], got {sample_fraction}")
    rng = np.random.default_rng(random_state)
    n = X.shape[0]
    size = max(segmenter.n_segments, int(round(sample_fraction * n)))
    scores = []
    for _ in range(n_draws):
        rows = np.sort(rng.choice(n, size=size, replace=False))
        refit = CustomerSegmenter(**segmenter.get_params()).fit(X[rows])
        scores.append(adjusted_rand_score(reference_labels, refit.predict(X)))
    return StabilityResult(
        ari_mean=round(float(np.mean(scores)), _DIGITS),
        ari_worst=round(float(np.min(scores)), _DIGITS),
        n_draws=n_draws,
        sample_fraction=sample_fraction,
    )


def evaluate_k(
    X: np.ndarray,
    k: int,
    *,
    random_state: int = DEFAULTS.random_state,
    n_init: int = N_INIT,
    n_bootstrap: int = N_BOOTSTRAP,
    sample_fraction: float = BOOTSTRAP_FRACTION,
    min_segment_share: float = DEFAULTS.min_segment_share,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
    rhythm: Rhythm | None = None,
) -> KEvaluation:
    """Fit k segments on ``X`` and gather the evidence described in the module docstring.

    ``rhythm`` (the customers' silence in usual gaps between purchases) is what the names'
    rhythm clauses are decided on (see :meth:`CustomerSegmenter.fit`).
    """
    segmenter = CustomerSegmenter(
        n_segments=k,
        random_state=random_state,
        n_init=n_init,
    ).fit(X, silence_gaps=None if rhythm is None else rhythm.silence)
    metrics = evaluate_segmentation(
        segmenter.scale(X),
        segmenter.labels_,
        inertia=segmenter.inertia_,
        random_state=random_state,
        silhouette_sample_size=silhouette_sample_size,
    )
    stability = bootstrap_stability(
        X,
        segmenter.labels_,
        segmenter,
        n_draws=n_bootstrap,
        sample_fraction=sample_fraction,
        random_state=random_state,
    )
    smallest = min(profile["share"] for profile in segmenter.profiles_)
    unsupported = [check.segment_name for check in segmenter.unsupported_names()]
    return KEvaluation(
        k=k,
        silhouette=metrics["silhouette"],
        davies_bouldin=metrics["davies_bouldin"],
        inertia=metrics["inertia"],
        stability_ari_mean=stability.ari_mean,
        stability_ari_worst=stability.ari_worst,
        smallest_segment_share=round(float(smallest), _DIGITS),
        segment_names=[profile["segment_name"] for profile in segmenter.profiles_],
        unsupported_names=unsupported,
        eligible=smallest >= min_segment_share and not unsupported,
    )


def select_k(
    X: np.ndarray,
    ks: Sequence[int] = ALL_KS,
    *,
    random_state: int = DEFAULTS.random_state,
    n_init: int = N_INIT,
    n_bootstrap: int = N_BOOTSTRAP,
    sample_fraction: float = BOOTSTRAP_FRACTION,
    min_segment_share: float = DEFAULTS.min_segment_share,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
    rhythm: Rhythm | None = None,
) -> KSelection:
    """Evaluate every k in ``ks`` and choose one under the business constraint.

    ``rhythm`` is passed to every fit (see :func:`evaluate_k`).

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
    evaluations = [
        evaluate_k(
            X,
            k,
            random_state=random_state,
            n_init=n_init,
            n_bootstrap=n_bootstrap,
            sample_fraction=sample_fraction,
            min_segment_share=min_segment_share,
            silhouette_sample_size=silhouette_sample_size,
            rhythm=rhythm,
        )
        for k in ks
    ]
    eligible = [evaluation for evaluation in evaluations if evaluation.eligible]
    if not eligible:
        return KSelection(
            evaluations=evaluations,
            chosen_k=None,
            min_segment_share=min_segment_share,
            n_customers=int(X.shape[0]),
            reason=(
                f"no k in {list(ks)} keeps every segment at or above {min_segment_share:.0%} "
                "of customers with all names supported by the data"
            ),
        )
    best = max(
        eligible,
        key=lambda e: (
            e.silhouette if e.silhouette is not None else -1.0,
            e.stability_ari_mean,
            -e.k,
        ),
    )
    return KSelection(
        evaluations=evaluations,
        chosen_k=best.k,
        min_segment_share=min_segment_share,
        n_customers=int(X.shape[0]),
        reason=(
            f"k={best.k} has the highest silhouette ({best.silhouette:.3f}) among the k whose "
            f"smallest segment holds at least {min_segment_share:.0%} of customers and whose "
            "names are all supported"
        ),
    )
