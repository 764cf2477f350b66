"""Naming rules: scores, optimal assignment, tie-breaking and errors."""

import itertools

import numpy as np
import pytest

from custseg.errors import ConfigError
from custseg.naming import (
    SCORE_WEIGHTS,
    SEGMENT_DESCRIPTIONS,
    SEGMENT_NAMES,
    NamingResult,
    name_clusters,
    score_formula,
    score_matrix,
)

# Hand-written archetype centroids (zR, zF, zM, zA) and the segment id each must get.
ARCHETYPES = {
    0: (0.0, -1.0, 0.5, 2.0),  # rare, huge baskets
    1: (2.0, 0.3, 0.2, 0.0),  # silent for long, used to buy
    2: (0.5, -1.5, -1.8, -1.0),  # few orders, little revenue
    3: (-0.8, 1.3, 1.3, 0.4),  # frequent, recent, top revenue
    4: (-0.9, 0.6, -0.3, -0.9),  # frequent, recent, small baskets
}


def test_segment_names_are_the_public_contract():
    assert SEGMENT_NAMES == {
        0: "Big Spenders",
        1: "At-Risk (Lapsing)",
        2: "Occasional Shoppers",
        3: "Champions (VIPs)",
        4: "Loyal Customers",
    }
    assert set(SEGMENT_DESCRIPTIONS) == set(SEGMENT_NAMES) == set(SCORE_WEIGHTS)


def test_score_formulas():
    assert [score_formula(s) for s in range(5)] == [
        "2*zA - 0.5*zF",
        "zR + 0.5*zF",
        "-zF - zM",
        "zF + zM - zR",
        "zF - zR - 0.5*zA",
    ]


def test_score_matrix_values():
    scores = score_matrix(np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert scores.tolist() == [[7.0, 2.0, -5.0, 4.0, -1.0]]


def test_five_archetypes_get_their_names_in_any_order():
    ids = list(ARCHETYPES)
    for perm in itertools.permutations(ids):
        result = name_clusters(np.array([ARCHETYPES[i] for i in perm]))
        assert result.segment_id_of_cluster == perm


def test_result_contents():
    result = name_clusters(np.array([ARCHETYPES[i] for i in range(5)]))
    assert isinstance(result, NamingResult)
    assert result.segment_names == tuple(SEGMENT_NAMES[i] for i in range(5))
    assert len(result.score_matrix) == 5 and all(len(r) == 5 for r in result.score_matrix)
    assert result.score_matrix[0][0] == 4.5  # 2*2.0 - 0.5*(-1.0)
    assert result.evidence[0] == "highest order value (zA=+2.00); score +4.50 = 2*zA - 0.5*zF"
    assert result.evidence[1].startswith("longest since last purchase (zR=+2.00)")
    assert result.evidence[2].startswith("fewest orders (zF=-1.50)")
    assert result.evidence[3].startswith("highest lifetime revenue (zM=+1.30)")
    assert result.evidence[4].startswith("most recent purchases (zR=-0.90)")
    d = result.to_dict()
    assert d["score_matrix"][0] == [4.5, -0.5, 0.5, -0.5, -2.0]
    assert NamingResult.from_dict(d) == result


def test_assignment_is_optimal_not_greedy():
    # Greedy would make cluster 0 the Champion (3.2 vs 2.5), leaving cluster 1 Loyal (1.0):
    # total 4.2. Cluster 0 is almost as good a Loyal Customer (3.0), so the optimum is 5.5.
    centroids = np.array([[-2.0, 1.0, 0.2, 0.0], [0.0, 1.0, 1.5, 0.0]])
    assert name_clusters(centroids).segment_id_of_cluster == (4, 3)


def test_k3_picks_three_names_consistent_with_rules():
    centroids = np.array([ARCHETYPES[2], ARCHETYPES[3], ARCHETYPES[1]])
    assert name_clusters(centroids).segment_id_of_cluster == (2, 3, 1)


def test_ties_do_not_depend_on_cluster_order():
    # Identical centroids tie on every name: the result must be a permutation-consistent one.
    centroids = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    a = name_clusters(centroids).segment_id_of_cluster
    b = name_clusters(centroids[[2, 0, 1]]).segment_id_of_cluster
    assert b[0] == a[2]
    assert {b[1], b[2]} == {a[0], a[1]}
    assert name_clusters(centroids).segment_id_of_cluster == a  # repeatable


def test_weak_match_is_flagged():
    # Nobody has big baskets, yet with k=5 some cluster must be called Big Spenders.
    centroids = np.array([ARCHETYPES[i] for i in range(5)])
    centroids[0] = (0.4, -1.0, -0.9, -0.4)
    result = name_clusters(centroids)
    assert result.segment_id_of_cluster[0] == 0
    assert result.weak_match == (True, False, False, False, False)
    assert result.evidence[0].endswith("; weak match")
    assert not result.evidence[1].endswith("; weak match")


@pytest.mark.parametrize("k", [0, 1, 6])
def test_k_outside_2_to_5_is_refused(k):
    with pytest.raises(ConfigError, match="k must be between 2 and 5"):
        name_clusters(np.zeros((k, 4)))


def test_wrong_shape_and_nan_are_refused():
    with pytest.raises(ConfigError, match="shape"):
        name_clusters(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        name_clusters(np.array([[0.0, 0.0, 0.0, np.nan], [1.0, 0.0, 0.0, 0.0]]))
