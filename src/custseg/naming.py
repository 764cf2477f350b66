"""Name K-means clusters with business segment names, by rule and not by hand, and check them.

K-means cluster indices are arbitrary and reshuffle on every retrain, so custseg never maps a
cluster index to a name by hand. Each segment name instead has a *score*: a weighted sum of a
cluster centroid's z-scores in the segmenter's clustering space (after its transforms and
scaling). The z-scores are

- ``zR``: recency (days since the last purchase; high = silent for a long time),
- ``zF``: number of orders (log scale; high = buys often),
- ``zA``: average order value (log scale; high = big baskets).

Lifetime revenue is not a clustering dimension: it is orders times order value, so
``log(revenue) ~ log(orders) + log(order value)`` and a ``zM`` axis would count both twice. It
still decides the name checks below.

The scores, in plain words:

- **Big Spenders** (id 0) = ``2*zA - 0.5*zF``: the biggest baskets, counted twice, with a small
  penalty for buying often (big baskets bought rarely, not VIPs who also buy often).
- **At-Risk (Lapsing)** (id 1) = ``zR + 0.5*zF``: a long silence since the last purchase, made
  more urgent when the customer used to buy often.
- **Occasional Shoppers** (id 2) = ``-zF - 0.5*zA``: few orders, and small ones.
- **Champions (VIPs)** (id 3) = ``1.5*zF - zR + 0.5*zA``: buy the most often, recently, with
  good baskets (so they also spend the most in total).
- **Loyal Customers** (id 4) = ``zF - zR - 0.5*zA``: buy often and recently, with modest
  baskets (the basket penalty separates them from Champions and Big Spenders).

With k clusters (2 <= k <= 5) the k names are chosen together: the assignment of k distinct names
to the k clusters that maximizes the total score (an optimal assignment on the k x 5 score matrix,
``scipy.optimize.linear_sum_assignment``). A name is therefore given for being the best *overall*
fit, not greedily; with k < 5 the names that fit no cluster well are left out.

Every cluster gets a name, even when no remaining name fits it. Whether the name is deserved is
decided separately, in original units, by :func:`check_names`: each name has a plain-words rule
over the segments' mean profiles (e.g. "Big Spenders: highest mean order value of all
segments"), and a segment that breaks its rule is reported with the numbers that decided.

The weights were checked on the planted archetypes of :mod:`custseg.sample_data` (every planted
archetype gets its own name at k=5, over 99% of customers named as planted, every name check
passes) and on the real Marketing Insights data (all five name checks pass at k=5).

Ties are broken deterministically and independently of the order in which K-means returned the
clusters: scores are rounded to 9 decimals and the clusters are put in a canonical order
(lexicographic on their rounded centroids) before the assignment is solved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from custseg.errors import ConfigError

__all__ = [
    "KEPT_ID_NOTE",
    "MAX_SEGMENTS",
    "MIN_SEGMENTS",
    "NAME_RULES",
    "SCORE_WEIGHTS",
    "SEGMENT_DESCRIPTIONS",
    "SEGMENT_NAMES",
    "Z_SYMBOLS",
    "NameCheck",
    "NamingResult",
    "check_names",
    "name_clusters",
    "name_clusters_as",
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

#: Order of the z-scores in a centroid row (same order as
#: ``custseg.segmenter.CLUSTER_FEATURES``).
Z_SYMBOLS: tuple[str, ...] = ("zR", "zF", "zA")

#: Segment id -> weights on (zR, zF, zA). See the module docstring for the reasoning.
SCORE_WEIGHTS: dict[int, tuple[float, float, float]] = {
    0: (0.0, -0.5, 2.0),
    1: (1.0, 0.5, 0.0),
    2: (0.0, -1.0, -0.5),
    3: (-1.0, 1.5, 0.5),
    4: (-1.0, 1.0, -0.5),
}

#: Segment id -> the rule, in plain words, that its mean profile must satisfy
#: (see :func:`check_names`).
NAME_RULES: dict[int, str] = {
    0: "highest mean order value of all segments",
    1: (
        "longest mean recency among segments other than Occasional Shoppers, and mean orders "
        "above Occasional Shoppers'"
    ),
    2: "lowest mean orders and lowest mean revenue of all segments",
    3: (
        "highest mean orders and highest mean revenue of all segments, and mean recency below "
        "the overall mean"
    ),
    4: (
        "mean recency below the overall mean; mean orders above Occasional Shoppers' and below "
        "Champions'; mean order value below Big Spenders'"
    ),
}

#: Appended to the evidence of a segment whose id was carried over from a previous model
#: instead of being chosen by the scores (see :func:`name_clusters_as`).
KEPT_ID_NOTE = "id kept from the previous model"

# The feature each name is "about", used to write the evidence string: (z index, direction,
# phrase for the most extreme cluster in that direction).
_HEADLINES: dict[int, tuple[int, int, str]] = {
    0: (2, +1, "highest order value"),
    1: (0, +1, "longest since last purchase"),
    2: (1, -1, "fewest orders"),
    3: (1, +1, "most orders"),
    4: (0, -1, "most recent purchases"),
}

MIN_SEGMENTS = 2
MAX_SEGMENTS = len(SEGMENT_NAMES)

# Rounding used before solving the assignment so that float noise cannot break a tie differently
# on two machines; and rounding of the stored score matrix.
_SCORE_DECIMALS = 9
_STORED_DECIMALS = 4

# Profile feature -> (words used in name-check details, unit suffix, decimals).
_CHECK_FEATURES: dict[str, tuple[str, str, int]] = {
    "recency_days": ("mean recency", " days", 1),
    "count_orders": ("mean orders", "", 2),
    "lifetime_revenue": ("mean revenue", "", 2),
    "avg_order_value": ("mean order value", "", 2),
}


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


@dataclass(frozen=True)
class NameCheck:
    """Whether one segment's mean profile supports its name (see :func:`check_names`).

    Attributes
    ----------
    segment_id : int
        The segment checked.
    segment_name : str
        Its name, ``SEGMENT_NAMES[segment_id]``.
    rule : str
        The rule in plain words (:data:`NAME_RULES`).
    passed : bool
        True when the profile satisfies every part of the rule.
    detail : str
        The numbers that decided, one clause per part of the rule, e.g.
        ``"mean order value 120.50 is not the highest: Loyal Customers has 150.20"``.
    """

    segment_id: int
    segment_name: str
    rule: str
    passed: bool
    detail: str

    def describe(self) -> str:
        """One line for a log or a warning: name, verdict, rule and the deciding numbers."""
        verdict = "supported" if self.passed else "NOT supported"
        return (
            f"segment {self.segment_id} '{self.segment_name}' is {verdict} by its profile "
            f"(rule: {self.rule}; {self.detail})"
        )

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {
            "segment_id": self.segment_id,
            "segment_name": self.segment_name,
            "rule": self.rule,
            "passed": self.passed,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict) -> NameCheck:
        """Rebuild a check written by :meth:`to_dict`."""
        return cls(
            segment_id=int(d["segment_id"]),
            segment_name=str(d["segment_name"]),
            rule=str(d["rule"]),
            passed=bool(d["passed"]),
            detail=str(d["detail"]),
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
    """Score every segment name for every row (a cluster centroid or a single customer).

    Parameters
    ----------
    centroids_z : ndarray of shape (n, 3)
        Points in the standardized clustering space, columns ``(zR, zF, zA)``.

    Returns
    -------
    ndarray of shape (n, 5)
        ``scores[c, s]`` is the score of segment id ``s`` for row ``c``.
    """
    c = np.asarray(centroids_z, dtype=np.float64)
    scores = np.zeros((c.shape[0], len(SEGMENT_NAMES)), dtype=np.float64)
    # Element-wise products summed in a fixed order rather than a BLAS matrix product: every
    # step is correctly rounded, so the scores are the same bits on every machine.
    for s in sorted(SEGMENT_NAMES):
        for j, w in enumerate(SCORE_WEIGHTS[s]):
            if w != 0.0:
                scores[:, s] += w * c[:, j]
    return scores


def name_clusters(centroids_z: np.ndarray) -> NamingResult:
    """Give each cluster a distinct segment name by maximizing the total score.

    Parameters
    ----------
    centroids_z : array-like of shape (k, 3)
        Cluster centroids in the standardized clustering space, columns ``(zR, zF, zA)``;
        ``2 <= k <= 5``.

    Returns
    -------
    NamingResult
        The segment id of each cluster (same cluster order as ``centroids_z``), the rounded score
        matrix and an evidence string per cluster.

    Raises
    ------
    ConfigError
        If ``k`` is outside 2..5 or the centroids are not a finite ``(k, 3)`` matrix.
    """
    c = _checked_centroids(centroids_z)
    k = c.shape[0]
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
    evidence = tuple(
        _evidence(c, scores, cluster, segment_id_of_cluster[cluster]) for cluster in range(k)
    )
    return NamingResult(
        segment_id_of_cluster=segment_id_of_cluster,
        score_matrix=_stored(scores),
        evidence=evidence,
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


def check_names(profiles: Sequence[Mapping]) -> tuple[NameCheck, ...]:
    """Check, in original units, that each segment's mean profile supports its name.

    The rules (:data:`NAME_RULES`) compare a segment's mean recency, orders, revenue and order
    value with those of the other segments of the same model; a comparison with a segment the
    model does not have (k < 5) is skipped. The overall mean is over all customers (the
    count-weighted mean of the segment means).

    - Champions (VIPs): highest mean orders and highest mean revenue of all segments, and mean
      recency below the overall mean.
    - Loyal Customers: mean recency below the overall mean; mean orders above Occasional
      Shoppers' and below Champions'; mean order value below Big Spenders'.
    - Big Spenders: highest mean order value of all segments.
    - At-Risk (Lapsing): longest mean recency among segments other than Occasional Shoppers,
      and mean orders above Occasional Shoppers'.
    - Occasional Shoppers: lowest mean orders and lowest mean revenue of all segments.

    "Highest" and "above" are strict: a tie does not support the name.

    Parameters
    ----------
    profiles : sequence of mapping
        One per segment, as in ``CustomerSegmenter.profiles_``: ``segment_id``, ``count`` and
        ``mean`` (a mapping with ``recency_days``, ``count_orders``, ``lifetime_revenue`` and
        ``avg_order_value``).

    Returns
    -------
    tuple of NameCheck
        One per profile, in the order given.

    Raises
    ------
    ConfigError
        If the segment ids are not distinct known ids or a profile lacks a count or a mean.
    """
    try:
        segments = [
            (
                int(p["segment_id"]),
                int(p["count"]),
                {f: float(p["mean"][f]) for f in _CHECK_FEATURES},
            )
            for p in profiles
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"Name checks need per-segment profiles with segment_id, count and the mean of "
            f"{', '.join(_CHECK_FEATURES)} (as in CustomerSegmenter.profiles_); got one without "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    ids = [sid for sid, _, _ in segments]
    if len(set(ids)) != len(ids) or any(s not in SEGMENT_NAMES for s in ids):
        raise ConfigError(
            f"Name checks need distinct segment ids out of {sorted(SEGMENT_NAMES)}; got {ids}."
        )
    total = sum(count for _, count, _ in segments)
    if total <= 0 or any(count <= 0 for _, count, _ in segments):
        raise ConfigError("Name checks need a positive customer count for every segment.")
    means = {sid: mean for sid, _, mean in segments}
    overall_recency = sum(count * mean["recency_days"] for _, count, mean in segments) / total

    checks = []
    for sid in ids:
        others = [s for s in ids if s != sid]
        if sid == 0:
            clauses = [_extreme(means, sid, others, "avg_order_value", +1)]
        elif sid == 1:
            clauses = [
                _extreme(
                    means,
                    sid,
                    [s for s in others if s != 2],
                    "recency_days",
                    +1,
                    scope=f" among segments other than {SEGMENT_NAMES[2]}",
                ),
                _versus(means, sid, 2, "count_orders", +1),
            ]
        elif sid == 2:
            clauses = [
                _extreme(means, sid, others, "count_orders", -1),
                _extreme(means, sid, others, "lifetime_revenue", -1),
            ]
        elif sid == 3:
            clauses = [
                _extreme(means, sid, others, "count_orders", +1),
                _extreme(means, sid, others, "lifetime_revenue", +1),
                _below_overall(means[sid], overall_recency),
            ]
        else:
            clauses = [
                _below_overall(means[sid], overall_recency),
                _versus(means, sid, 2, "count_orders", +1),
                _versus(means, sid, 3, "count_orders", -1),
                _versus(means, sid, 0, "avg_order_value", -1),
            ]
        checks.append(
            NameCheck(
                segment_id=sid,
                segment_name=SEGMENT_NAMES[sid],
                rule=NAME_RULES[sid],
                passed=all(ok for ok, _ in clauses),
                detail="; ".join(text for _, text in clauses),
            )
        )
    return tuple(checks)


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


def _fmt(feature: str, value: float) -> str:
    """A mean in original units, e.g. ``"56.0 days"`` or ``"1043.40"``."""
    _, unit, decimals = _CHECK_FEATURES[feature]
    return f"{value:.{decimals}f}{unit}"


def _extreme(
    means: dict[int, dict[str, float]],
    sid: int,
    others: list[int],
    feature: str,
    direction: int,
    scope: str = " of all segments",
) -> tuple[bool, str]:
    """Clause "``sid`` has the highest (direction +1) / lowest (-1) mean ``feature``"."""
    label = _CHECK_FEATURES[feature][0]
    if feature == "recency_days" and direction > 0:
        word = "longest"
    else:
        word = "highest" if direction > 0 else "lowest"
    value = means[sid][feature]
    if not others:
        return True, f"{label} {_fmt(feature, value)} (no other segment to compare with)"
    # Runner-up: the most extreme of the others; ties go to the lowest id (deterministic text).
    rival = min(others, key=lambda s: (-direction * means[s][feature], s))
    rival_value = means[rival][feature]
    if direction * value > direction * rival_value:
        return True, (
            f"{label} {_fmt(feature, value)} is the {word}{scope} "
            f"(next: {SEGMENT_NAMES[rival]} {_fmt(feature, rival_value)})"
        )
    return False, (
        f"{label} {_fmt(feature, value)} is not the {word}{scope}: "
        f"{SEGMENT_NAMES[rival]} has {_fmt(feature, rival_value)}"
    )


def _versus(
    means: dict[int, dict[str, float]], sid: int, other: int, feature: str, direction: int
) -> tuple[bool, str]:
    """Clause "mean ``feature`` of ``sid`` is above (+1) / below (-1) that of ``other``"."""
    label = _CHECK_FEATURES[feature][0]
    word = "above" if direction > 0 else "below"
    value = means[sid][feature]
    if other not in means:
        return True, (
            f"{label} {_fmt(feature, value)} (no {SEGMENT_NAMES[other]} segment to compare with)"
        )
    other_value = means[other][feature]
    ok = direction * value > direction * other_value
    return ok, (
        f"{label} {_fmt(feature, value)} is {'' if ok else 'not '}{word} the "
        f"{_fmt(feature, other_value)} of {SEGMENT_NAMES[other]}"
    )


def _below_overall(mean: dict[str, float], overall_recency: float) -> tuple[bool, str]:
    """Clause "mean recency is below the overall mean recency"."""
    value = mean["recency_days"]
    ok = value < overall_recency
    return ok, (
        f"mean recency {_fmt('recency_days', value)} is {'' if ok else 'not '}below the overall "
        f"mean {_fmt('recency_days', overall_recency)}"
    )
