"""Name K-means clusters with business segment names, by rule and not by hand.

K-means cluster indices are arbitrary and reshuffle on every retrain, so custseg never maps a
cluster index to a name by hand. Each segment name instead has a *score*: a weighted sum of a
cluster centroid's z-scores in the standardized feature space (after the segmenter's transforms
and scaling). The z-scores are

- ``zR``: recency (days since the last purchase; high = silent for a long time),
- ``zF``: number of orders (log scale; high = buys often),
- ``zM``: lifetime revenue (log scale; high = spent a lot in total),
- ``zA``: average order value (log scale; high = big baskets).

The scores, in plain words:

- **Big Spenders** (id 0) = ``2*zA - 0.5*zF``: the biggest baskets, counted twice, with a small
  penalty for buying often (big baskets bought rarely, not VIPs who also buy often).
- **At-Risk (Lapsing)** (id 1) = ``zR + 0.5*zF``: a long silence since the last purchase, made
  more urgent when the customer used to buy often.
- **Occasional Shoppers** (id 2) = ``-zF - zM``: few orders and little revenue in total.
- **Champions (VIPs)** (id 3) = ``zF + zM - zR``: buy often, spend the most in total and bought
  recently.
- **Loyal Customers** (id 4) = ``zF - zR - 0.5*zA``: buy often and recently, with modest
  baskets (the basket penalty separates them from Champions and Big Spenders).

With k clusters (2 <= k <= 5) the k names are chosen together: the assignment of k distinct names
to the k clusters that maximizes the total score (an optimal assignment on the k x 5 score matrix,
``scipy.optimize.linear_sum_assignment``). A name is therefore given for being the best *overall*
fit, not greedily; with k < 5 the names that fit no cluster well are left out.

Every cluster gets a name, even when no remaining name fits it: a name whose score is below 0
(:data:`WEAK_MATCH_SCORE`) is flagged as a *weak match* in :class:`NamingResult` and its evidence.
On the real Marketing Insights data at k=5, for instance, no cluster has unusually large baskets
and the "Big Spenders" name lands on a low-value lapsing cluster with a negative score.

The weights were checked on the planted archetypes of :mod:`custseg.sample_data`: at k=5 every
planted archetype gets its own name (over 99.8% of customers named as planted), and the best
assignment beats the runner-up by about 1.5 score units.

Ties are broken deterministically and independently of the order in which K-means returned the
clusters: scores are rounded to 9 decimals and the clusters are put in a canonical order
(lexicographic on their rounded centroids) before the assignment is solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from custseg.errors import ConfigError

__all__ = [
    "MAX_SEGMENTS",
    "MIN_SEGMENTS",
    "SCORE_WEIGHTS",
    "SEGMENT_DESCRIPTIONS",
    "SEGMENT_NAMES",
    "WEAK_MATCH_SCORE",
    "NamingResult",
    "name_clusters",
    "score_formula",
    "score_matrix",
]

#: Segment id -> name. The ids are part of the public contract (published tables, dbt tests):
#: never renumber them.
SEGMENT_NAMES: dict[int, str] = {
    0: "Big Spenders",
    1: "At-Risk (Lapsing)",
    2: "Occasional Shoppers",
    3: "Champions (VIPs)",
    4: "Loyal Customers",
}

#: Segment id -> one-sentence description for documentation and dashboards.
SEGMENT_DESCRIPTIONS: dict[int, str] = {
    0: "Customers with the largest baskets (highest average order value) who buy rarely.",
    1: "Customers who used to buy but have been silent the longest; candidates for win-back.",
    2: "Customers with few orders and low total revenue.",
    3: "The most valuable customers: frequent, recent and with the highest total revenue.",
    4: "Frequent, recent customers with modest baskets.",
}

#: Order of the z-scores in a centroid row (same order as ``custseg.segmenter.FEATURES``).
Z_SYMBOLS: tuple[str, ...] = ("zR", "zF", "zM", "zA")

#: Segment id -> weights on (zR, zF, zM, zA). See the module docstring for the reasoning.
SCORE_WEIGHTS: dict[int, tuple[float, float, float, float]] = {
    0: (0.0, -0.5, 0.0, 2.0),
    1: (1.0, 0.5, 0.0, 0.0),
    2: (0.0, -1.0, -1.0, 0.0),
    3: (-1.0, 1.0, 1.0, 0.0),
    4: (-1.0, 1.0, 0.0, -0.5),
}

# The feature each name is "about", used to write the evidence string: (z index, direction,
# phrase for the most extreme cluster in that direction).
_HEADLINES: dict[int, tuple[int, int, str]] = {
    0: (3, +1, "highest order value"),
    1: (0, +1, "longest since last purchase"),
    2: (1, -1, "fewest orders"),
    3: (2, +1, "highest lifetime revenue"),
    4: (0, -1, "most recent purchases"),
}

#: A cluster whose name scores below this is flagged as a weak match (see NamingResult).
WEAK_MATCH_SCORE = 0.0

MIN_SEGMENTS = 2
MAX_SEGMENTS = len(SEGMENT_NAMES)

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
        ``score_matrix[c][s]`` is the score of segment id ``s`` (0..4) for cluster ``c``, rounded
        to 4 decimals. Use :meth:`to_dict` for the nested-list form stored in the model JSON.
    evidence : tuple of str
        Per cluster, a short human-readable reason for its name, e.g.
        ``"highest order value (zA=+2.10); score +3.85 = 2*zA - 0.5*zF"``; weak matches end
        with ``"; weak match"``.
    weak_match : tuple of bool
        Per cluster, True when the score of its name is below :data:`WEAK_MATCH_SCORE`: the name
        was the best *available* one (every cluster must get a distinct name), but the cluster
        does not really show that behaviour. Worth a warning to the user.
    """

    segment_id_of_cluster: tuple[int, ...]
    score_matrix: tuple[tuple[float, ...], ...]
    evidence: tuple[str, ...]
    weak_match: tuple[bool, ...]

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
            weak_match=tuple(self.weak_match[i] for i in idx),
        )

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (lists, ints, floats, str)."""
        return {
            "segment_id_of_cluster": list(self.segment_id_of_cluster),
            "score_matrix": [list(row) for row in self.score_matrix],
            "score_columns": [SEGMENT_NAMES[s] for s in sorted(SEGMENT_NAMES)],
            "evidence": list(self.evidence),
            "weak_match": list(self.weak_match),
        }

    @classmethod
    def from_dict(cls, d: dict) -> NamingResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            segment_id_of_cluster=tuple(int(s) for s in d["segment_id_of_cluster"]),
            score_matrix=tuple(tuple(float(v) for v in row) for row in d["score_matrix"]),
            evidence=tuple(str(e) for e in d["evidence"]),
            weak_match=tuple(bool(w) for w in d["weak_match"]),
        )


def score_formula(segment_id: int) -> str:
    """Return the score of ``segment_id`` as a formula, e.g. ``"2*zA - 0.5*zF"``.

    Parameters
    ----------
    segment_id : int
        One of the keys of :data:`SEGMENT_NAMES`.

    Returns
    -------
    str
        Terms ordered by decreasing absolute weight, positive first on ties.
    """
    weights = SCORE_WEIGHTS[segment_id]
    terms = sorted(
        ((w, sym) for w, sym in zip(weights, Z_SYMBOLS, strict=True) if w != 0.0),
        key=lambda t: (-abs(t[0]), -t[0]),
    )
    out = ""
    for i, (w, sym) in enumerate(terms):
        mag = abs(w)
        term = sym if mag == 1.0 else f"{mag:g}*{sym}"
        if i == 0:
            out = term if w > 0 else f"-{term}"
        else:
            out += f" + {term}" if w > 0 else f" - {term}"
    return out


def score_matrix(centroids_z: np.ndarray) -> np.ndarray:
    """Score every segment name for every cluster.

    Parameters
    ----------
    centroids_z : ndarray of shape (k, 4)
        Cluster centroids in the standardized space, columns ``(zR, zF, zM, zA)``.

    Returns
    -------
    ndarray of shape (k, 5)
        ``scores[c, s]`` is the score of segment id ``s`` for cluster ``c``.
    """
    weights = np.array([SCORE_WEIGHTS[s] for s in sorted(SEGMENT_NAMES)], dtype=np.float64)
    return np.asarray(centroids_z, dtype=np.float64) @ weights.T


def name_clusters(centroids_z: np.ndarray) -> NamingResult:
    """Give each cluster a distinct segment name by maximizing the total score.

    Parameters
    ----------
    centroids_z : array-like of shape (k, 4)
        Cluster centroids in the standardized space, columns ``(zR, zF, zM, zA)``;
        ``2 <= k <= 5``.

    Returns
    -------
    NamingResult
        The segment id of each cluster (same cluster order as ``centroids_z``), the rounded score
        matrix and an evidence string per cluster.

    Raises
    ------
    ConfigError
        If ``k`` is outside 2..5 or the centroids are not a finite ``(k, 4)`` matrix.
    """
    c = np.asarray(centroids_z, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != len(Z_SYMBOLS):
        raise ConfigError(
            f"Cluster centroids must be a (k, {len(Z_SYMBOLS)}) matrix of z-scores "
            f"(zR, zF, zM, zA); got shape {c.shape}. Pass the centroids of the fitted model."
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

    scores = np.round(score_matrix(c), _SCORE_DECIMALS)
    # Canonical cluster order, so that the solver sees the same matrix (and breaks ties the same
    # way) whatever order K-means returned the clusters in.
    rounded = np.round(c, _SCORE_DECIMALS)
    canon = np.lexsort(rounded.T[::-1])
    rows, cols = linear_sum_assignment(scores[canon], maximize=True)
    segment_of = np.empty(k, dtype=np.int64)
    segment_of[canon[rows]] = cols
    ids = sorted(SEGMENT_NAMES)
    segment_id_of_cluster = tuple(ids[int(j)] for j in segment_of)

    assigned = scores[np.arange(k), segment_of]
    weak_match = tuple(bool(v < WEAK_MATCH_SCORE) for v in assigned)
    evidence = tuple(
        _evidence(c, scores, cluster, segment_id_of_cluster[cluster])
        + ("; weak match" if weak_match[cluster] else "")
        for cluster in range(k)
    )
    stored = tuple(
        tuple(float(round(v, _STORED_DECIMALS)) + 0.0 for v in row) for row in scores.tolist()
    )
    return NamingResult(
        segment_id_of_cluster=segment_id_of_cluster,
        score_matrix=stored,
        evidence=evidence,
        weak_match=weak_match,
    )


def _evidence(c: np.ndarray, scores: np.ndarray, cluster: int, segment_id: int) -> str:
    """Describe why ``cluster`` got ``segment_id``: its rank on the headline feature and score."""
    feature, direction, phrase = _HEADLINES[segment_id]
    z = c[cluster, feature]
    # Rank 1 = most extreme in the segment's direction among the k clusters.
    rank = 1 + int(np.sum(direction * c[:, feature] > direction * z))
    lead = phrase if rank == 1 else f"{_ordinal(rank)} {phrase}"
    score = scores[cluster, segment_id] + 0.0
    formula = score_formula(segment_id)
    return f"{lead} ({Z_SYMBOLS[feature]}={z:+.2f}); score {score:+.2f} = {formula}"


def _ordinal(n: int) -> str:
    """Return ``1st``, ``2nd``, ``3rd``, ``4th``, ... for small ``n``."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
    return f"{n}{suffix}"
