"""Name K-means clusters from the segment catalogue, by their scores and not by hand.

K-means cluster indices are arbitrary and reshuffle on every retrain, so custseg never maps a
cluster index to a name by hand. Every name of :mod:`custseg.catalogue` has a *naming score*, a
weighted sum of a cluster centroid's z-scores ``(zR, zF, zA)`` in the segmenter's clustering
space. The five names of the original guide come first: with k clusters, k of them are chosen
together, by the assignment of distinct names to clusters that maximizes the total score (an
optimal assignment on the k x 5 score matrix, ``scipy.optimize.linear_sum_assignment``). A name
is therefore given for being the best *overall* fit, not greedily; with k < 5 the names that
fit no cluster well are left out, with k > 5 the clusters left over get names of the wider
catalogue the same way.

Every cluster gets a name, even when no remaining name fits it. Whether the name is deserved is
decided in original units, by :func:`custseg.model.name_checks.check_names`; a cluster whose
name does not hold takes a wider-catalogue name whose rule does
(:func:`name_from_wider_catalogue`), or keeps its name, reported as not supported.

Ties are broken deterministically and independently of the order in which K-means returned the
clusters: scores are rounded to 9 decimals and the clusters are put in a canonical order
(lexicographic on their rounded centroids) before the assignment is solved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from custseg.catalogue import (
    MAX_SEGMENTS,
    MIN_SEGMENTS,
    ORIGINAL_IDS,
    SEGMENT_NAMES,
    SEGMENT_TYPES,
    WIDER_IDS,
    Z_SYMBOLS,
    segment_ids,
)
from custseg.errors import ConfigError
from custseg.model.name_checks import check_names

#: Appended to the evidence of a segment whose id was carried over from a previous model
#: instead of being chosen by the scores (see :func:`name_clusters_as`).
KEPT_ID_NOTE = "id kept from the previous model"
#: In the evidence of a segment renamed because its first name's rule did not hold (see
#: :func:`name_from_wider_catalogue`).
WIDER_NOTE = "renamed after the name check"
# Weight of an eligible pair in the renaming assignment: more than any naming score.
_ELIGIBLE_WEIGHT = 1e6

# Rounding used before solving the assignment so that float noise cannot break a tie differently
# on two machines; and rounding of the stored score matrix.
_SCORE_DECIMALS = 9
_STORED_DECIMALS = 4


@dataclass(frozen=True)
class NamingResult:
    """Outcome of :func:`name_clusters`.

    Attributes
    ----------
    segment_id_of_cluster : tuple of int
        ``segment_id_of_cluster[c]`` is the segment id given to cluster ``c`` (clusters in the
        order of the centroid rows passed to :func:`name_clusters`). The ids are distinct.
    score_matrix : tuple of tuple of float
        ``score_matrix[c][s]`` is the score of segment id ``s`` (0..9) for cluster ``c``, rounded
        to 4 decimals. Use :meth:`to_dict` for the nested-list form stored in the model JSON.
    evidence : tuple of str
        Per cluster, a short human-readable reason for its name, e.g.
        ``"highest order value (zA=+2.10); score +3.85 = 2*zA - 0.5*zF"``.
    """

    segment_id_of_cluster: tuple[int, ...]
    score_matrix: tuple[tuple[float, ...], ...]
    evidence: tuple[str, ...]

    @property
    def segment_names(self) -> tuple[str, ...]:
        """Segment name of each cluster, in cluster order."""
        return tuple(SEGMENT_NAMES[s] for s in self.segment_id_of_cluster)

    def reordered(self, order: list[int] | tuple[int, ...] | np.ndarray) -> NamingResult:
        """Return this naming with clusters permuted: new cluster ``i`` is old ``order[i]``."""
        idx = [int(i) for i in order]
        return NamingResult(
            segment_id_of_cluster=tuple(self.segment_id_of_cluster[i] for i in idx),
            score_matrix=tuple(self.score_matrix[i] for i in idx),
            evidence=tuple(self.evidence[i] for i in idx),
        )

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (lists, ints, floats, str)."""
        return {
            "segment_id_of_cluster": list(self.segment_id_of_cluster),
            "score_matrix": [list(row) for row in self.score_matrix],
            "score_columns": [SEGMENT_NAMES[s] for s in sorted(SEGMENT_NAMES)],
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_dict(cls, d: dict) -> NamingResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            segment_id_of_cluster=tuple(int(s) for s in d["segment_id_of_cluster"]),
            score_matrix=tuple(tuple(float(v) for v in row) for row in d["score_matrix"]),
            evidence=tuple(str(e) for e in d["evidence"]),
        )


def score_matrix(centroids_z: np.ndarray) -> np.ndarray:
    """Score every segment name for every row (a cluster centroid or a single customer).

    Parameters
    ----------
    centroids_z : ndarray of shape (n, 3)
        Points in the standardized clustering space, columns ``(zR, zF, zA)``.

    Returns
    -------
    ndarray of shape (n, 10)
        ``scores[c, s]`` is the score of segment id ``s`` for row ``c`` (every catalogue id).
    """
    c = np.asarray(centroids_z, dtype=np.float64)
    scores = np.zeros((c.shape[0], len(SEGMENT_NAMES)), dtype=np.float64)
    # Element-wise products summed in a fixed order rather than a BLAS matrix product: every
    # step is correctly rounded, so the scores are the same bits on every machine.
    for s in segment_ids():
        for j, w in enumerate(SEGMENT_TYPES[s].score_weights):
            if w != 0.0:
                scores[:, s] += w * c[:, j]
    return scores


def name_clusters(centroids_z: np.ndarray) -> NamingResult:
    """Give each cluster a distinct segment name by maximizing the total score.

    The five names of the original guide come first: the optimal assignment is solved on their
    scores alone, so with k <= 5 every cluster gets one of them. With k > 5 the clusters left
    over get names of the wider catalogue, by a second optimal assignment on those scores.
    Whether each name holds is decided afterwards, in original units
    (:func:`name_from_wider_catalogue` replaces the names that do not).

    Parameters
    ----------
    centroids_z : array-like of shape (k, 3)
        Cluster centroids in the standardized clustering space, columns ``(zR, zF, zA)``;
        ``2 <= k <= 10``.

    Returns
    -------
    NamingResult
        The segment id of each cluster (same cluster order as ``centroids_z``), the rounded score
        matrix and an evidence string per cluster.

    Raises
    ------
    ConfigError
        If ``k`` is outside 2..10 or the centroids are not a finite ``(k, 3)`` matrix.
    """
    c = _checked_centroids(centroids_z)
    k = c.shape[0]
    scores = np.round(score_matrix(c), _SCORE_DECIMALS)
    # Canonical cluster order, so that the solver sees the same matrix (and breaks ties the same
    # way) whatever order K-means returned the clusters in.
    rounded = np.round(c, _SCORE_DECIMALS)
    canon = np.lexsort(rounded.T[::-1])
    segment_of = np.full(k, -1, dtype=np.int64)
    remaining = canon
    for names in (ORIGINAL_IDS, WIDER_IDS):
        if remaining.size == 0:
            break
        columns = list(names)
        rows, cols = linear_sum_assignment(scores[np.ix_(remaining, columns)], maximize=True)
        segment_of[remaining[rows]] = [columns[j] for j in cols]
        remaining = np.array([r for r in remaining if segment_of[r] < 0], dtype=np.int64)
    segment_id_of_cluster = tuple(int(s) for s in segment_of)
    evidence = tuple(
        _evidence(c, scores, cluster, segment_id_of_cluster[cluster]) for cluster in range(k)
    )
    return NamingResult(
        segment_id_of_cluster=segment_id_of_cluster,
        score_matrix=_stored(scores),
        evidence=evidence,
    )


def name_from_wider_catalogue(
    centroids_z: np.ndarray,
    naming: NamingResult,
    profiles: Sequence[Mapping],
) -> NamingResult:
    """Replace each name whose rule does not hold by one whose rule does, if there is one.

    A cluster whose name fails its rule (:func:`custseg.model.name_checks.check_names`, in
    original units) may take any name that no cluster with a supported name uses: a name of
    the original five left unused or held by another failing cluster, or a name of the wider
    catalogue. A candidate is eligible when the cluster's profile satisfies its rule, judged
    with the other clusters keeping their names (two failing clusters trying each other's name
    swap them). Among eligible pairs an optimal assignment on the naming scores decides. A
    failing cluster with no eligible name keeps its name
    (reported as not supported) unless another cluster took it, in which case it gets the
    best-scoring name left. One pass: the caller recomputes the checks on the final names.

    Parameters
    ----------
    centroids_z : array-like of shape (k, 3)
        The centroids ``naming`` was made for.
    naming : NamingResult
        The names chosen by :func:`name_clusters`.
    profiles : sequence of mapping
        The profile of each cluster, in cluster order (as ``CustomerSegmenter.profiles_``),
        with the ``segment_id`` ``naming`` gives it (and its ``median_silence_gaps``, which
        the rhythm clauses read).

    Returns
    -------
    NamingResult
        ``naming`` itself when every name holds or nothing changes; otherwise a new result
        whose renamed clusters' evidence says which name did not hold.
    """
    c = _checked_centroids(centroids_z)
    ids = list(naming.segment_id_of_cluster)
    checks = check_names(profiles)
    failing = [cluster for cluster, check in enumerate(checks) if not check.passed]
    if not failing:
        return naming
    kept = {ids[cluster] for cluster, check in enumerate(checks) if check.passed}
    candidates = [s for s in segment_ids() if s not in kept]
    eligible = np.zeros((len(failing), len(candidates)), dtype=bool)
    for i, cluster in enumerate(failing):
        for j, candidate in enumerate(candidates):
            if candidate == ids[cluster]:
                continue  # its own name failed
            trial = [dict(p) for p in profiles]
            for profile in trial:
                if profile["segment_id"] == candidate:
                    profile["segment_id"] = ids[cluster]  # swap with the failing holder
            trial[cluster]["segment_id"] = candidate
            eligible[i, j] = check_names(trial)[cluster].passed
    if not eligible.any():
        return naming
    scores = np.round(score_matrix(c), _SCORE_DECIMALS)
    # Eligible pairs outweigh any score: the assignment takes as many eligible pairs as it
    # can, and among those the best total naming score.
    fit = scores[np.ix_(failing, candidates)]
    weights = np.where(eligible, _ELIGIBLE_WEIGHT + fit, fit)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    renamed = {failing[i]: candidates[j] for i, j in zip(rows, cols, strict=True) if eligible[i, j]}
    claimed = set(renamed.values())
    # Failing clusters that keep their name (nobody fitting claimed it) hold it from the start.
    staying = {ids[c] for c in failing if c not in renamed and ids[c] not in claimed}
    taken = kept | claimed | staying
    evidence = list(naming.evidence)
    for cluster in failing:
        replaced = ids[cluster]
        if cluster in renamed:
            new_id, note = renamed[cluster], WIDER_NOTE
        elif replaced in claimed:
            # Its name went to a cluster that fits it; the best-scoring free name is left.
            new_id = max(
                (s for s in segment_ids() if s not in taken), key=lambda s: scores[cluster, s]
            )
            note = "its name went to a cluster that fits it"
            taken.add(new_id)
        else:
            continue
        ids[cluster] = new_id
        evidence[cluster] = (
            f"{_evidence(c, scores, cluster, new_id)}; {note}: the rule of "
            f"{SEGMENT_NAMES[replaced]} does not hold"
        )
    if tuple(ids) == naming.segment_id_of_cluster:
        return naming
    return NamingResult(
        segment_id_of_cluster=tuple(ids),
        score_matrix=naming.score_matrix,
        evidence=tuple(evidence),
    )


def name_clusters_as(centroids_z: np.ndarray, segment_ids: Sequence[int]) -> NamingResult:
    """Describe clusters whose ids were fixed beforehand (e.g. kept from a previous model).

    The scores are those of :func:`name_clusters`. A cluster whose given id is the one the
    scores would choose keeps exactly the evidence of :func:`name_clusters`; any other cluster
    gets the evidence for its given name followed by ``"; id kept from the previous model"``.
    Relabelling and relabelling back therefore restores the original result.

    Parameters
    ----------
    centroids_z : array-like of shape (k, 3)
        Cluster centroids in the standardized clustering space, columns ``(zR, zF, zA)``.
    segment_ids : sequence of int
        Distinct known segment ids, one per cluster, in the order of ``centroids_z``.

    Returns
    -------
    NamingResult
        With ``segment_id_of_cluster == tuple(segment_ids)``.

    Raises
    ------
    ConfigError
        If the centroids are invalid (see :func:`name_clusters`) or the ids are not one
        distinct known id per cluster.
    """
    ids = tuple(int(s) for s in segment_ids)
    c = _checked_centroids(centroids_z)
    if (
        len(ids) != c.shape[0]
        or len(set(ids)) != len(ids)
        or any(s not in SEGMENT_NAMES for s in ids)
    ):
        raise ConfigError(
            f"Segment ids {list(ids)} must be {c.shape[0]} distinct ids out of "
            f"{sorted(SEGMENT_NAMES)}, one per cluster."
        )
    chosen = name_clusters(c)
    scores = np.round(score_matrix(c), _SCORE_DECIMALS)
    evidence = tuple(
        chosen.evidence[cluster]
        if sid == chosen.segment_id_of_cluster[cluster]
        else f"{_evidence(c, scores, cluster, sid)}; {KEPT_ID_NOTE}"
        for cluster, sid in enumerate(ids)
    )
    return NamingResult(
        segment_id_of_cluster=ids, score_matrix=chosen.score_matrix, evidence=evidence
    )


# ---------------------------------------------------------------------- helpers


def _checked_centroids(centroids_z: np.ndarray) -> np.ndarray:
    """Return the centroids as a finite (k, 3) float matrix with 2 <= k <= 5, or raise."""
    c = np.asarray(centroids_z, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != len(Z_SYMBOLS):
        raise ConfigError(
            f"Cluster centroids must be a (k, {len(Z_SYMBOLS)}) matrix of z-scores "
            f"({', '.join(Z_SYMBOLS)}); got shape {c.shape}. Pass the centroids of the fitted "
            "model."
        )
    k = c.shape[0]
    if not MIN_SEGMENTS <= k <= MAX_SEGMENTS:
        raise ConfigError(
            f"Naming defines {MAX_SEGMENTS} segments ({', '.join(SEGMENT_NAMES.values())}), "
            f"so the number of segments k must be between {MIN_SEGMENTS} and {MAX_SEGMENTS}; "
            f"got k={k}. Set n_segments to a value in {MIN_SEGMENTS}..{MAX_SEGMENTS}."
        )
    if not np.all(np.isfinite(c)):
        raise ConfigError(
            "Cluster centroids contain NaN or infinite values and cannot be named; "
            "check the feature matrix the model was fitted on."
        )
    return c


def _stored(scores: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """The score matrix as stored in the model: rounded, plain floats, no -0.0."""
    return tuple(
        tuple(float(round(v, _STORED_DECIMALS)) + 0.0 for v in row) for row in scores.tolist()
    )


def _evidence(c: np.ndarray, scores: np.ndarray, cluster: int, segment_id: int) -> str:
    """Describe why ``cluster`` got ``segment_id``: its rank on the headline feature and score."""
    headline = SEGMENT_TYPES[segment_id].headline
    feature, direction, phrase = headline.z_index, headline.direction, headline.phrase
    z = c[cluster, feature]
    # Rank 1 = most extreme in the segment's direction among the k clusters.
    rank = 1 + int(np.sum(direction * c[:, feature] > direction * z))
    lead = phrase if rank == 1 else f"{_ordinal(rank)} {phrase}"
    score = scores[cluster, segment_id] + 0.0
    formula = SEGMENT_TYPES[segment_id].score_formula
    return f"{lead} ({Z_SYMBOLS[feature]}={z:+.2f}); score {score:+.2f} = {formula}"


def _ordinal(n: int) -> str:
    """Return ``1st``, ``2nd``, ``3rd``, ``4th``, ... for small ``n``."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
    return f"{n}{suffix}"
