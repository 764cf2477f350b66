"""Naming: the catalogue's scores, optimal assignment, tie-breaking, name checks and errors."""

import itertools

import numpy as np
import pytest

from custseg.catalogue import CATALOGUE, SEGMENT_NAMES, SEGMENT_TYPES
from custseg.errors import ConfigError
from custseg.model.name_checks import NameCheck, check_names
from custseg.model.naming import (
    KEPT_ID_NOTE,
    NamingResult,
    name_clusters,
    name_clusters_as,
    name_from_wider_catalogue,
    score_matrix,
)

# Hand-written archetype centroids (zR, zF, zA) and the segment id each must get.
ARCHETYPES = {
    0: (0.0, -1.0, 2.0),  # rare, huge baskets
    1: (2.0, 0.3, 0.0),  # silent for long, used to buy
    2: (0.5, -1.5, -1.0),  # few, small orders
    3: (-0.8, 1.3, 0.4),  # frequent, recent, good baskets
    4: (-0.9, 0.6, -0.9),  # frequent, recent, small baskets
}


def test_segment_names_are_the_public_contract():
    assert SEGMENT_NAMES == {
        0: "Big Spenders",
        1: "At-Risk (Lapsing)",
        2: "Occasional Shoppers",
        3: "Champions (VIPs)",
        4: "Loyal Customers",
        5: "New Customers",
        6: "Potential Loyalists",
        7: "One-time Buyers",
        8: "Hibernating / Lost",
        9: "Can't Lose Them",
    }
    assert [segment.segment_id for segment in CATALOGUE] == sorted(SEGMENT_TYPES)


def test_score_formulas():
    assert [SEGMENT_TYPES[s].score_formula for s in range(5)] == [
        "2*zA - 0.5*zF",
        "zR + 0.5*zF",
        "-zF - 0.5*zA",
        "1.5*zF - zR + 0.5*zA",
        "zF - zR - 0.5*zA",
    ]


def test_score_matrix_values():
    scores = score_matrix(np.array([[1.0, 2.0, 3.0]]))
    # zR=1, zF=2, zA=3: the five original names, then the wider catalogue's five.
    assert scores.tolist() == [[5.0, 2.0, -3.5, 3.5, -0.5, -3.0, 0.0, -2.0, 0.0, 4.0]]


def test_five_archetypes_get_their_names_in_any_order():
    ids = list(ARCHETYPES)
    for perm in itertools.permutations(ids):
        result = name_clusters(np.array([ARCHETYPES[i] for i in perm]))
        assert result.segment_id_of_cluster == perm


def test_result_contents():
    result = name_clusters(np.array([ARCHETYPES[i] for i in range(5)]))
    assert isinstance(result, NamingResult)
    assert result.segment_names == tuple(SEGMENT_NAMES[i] for i in range(5))
    assert len(result.score_matrix) == 5 and all(len(r) == 10 for r in result.score_matrix)
    assert result.score_matrix[0][0] == 4.5  # 2*2.0 - 0.5*(-1.0)
    assert result.evidence[0] == "highest order value (zA=+2.00); score +4.50 = 2*zA - 0.5*zF"
    assert result.evidence[1].startswith("longest since last purchase (zR=+2.00)")
    assert result.evidence[2].startswith("fewest orders (zF=-1.50)")
    assert result.evidence[3] == "most orders (zF=+1.30); score +2.95 = 1.5*zF - zR + 0.5*zA"
    assert result.evidence[4].startswith("most recent purchases (zR=-0.90)")
    d = result.to_dict()
    assert d["score_matrix"][0] == [4.5, -0.5, 0.0, -0.5, -2.0, 1.0, -0.5, 1.0, 0.5, 0.0]
    assert "weak_match" not in d
    assert NamingResult.from_dict(d) == result


def test_assignment_is_optimal_not_greedy():
    # Greedy would make cluster 0 the Champion (3.5, the largest score), leaving cluster 1 Loyal
    # (0.9): total 4.4. Cluster 0 is almost as good a Loyal Customer (3.0) and cluster 1 is
    # only a Champion (1.6), so the optimum is 4.6.
    centroids = np.array([[-2.0, 1.0, 0.0], [0.0, 1.0, 0.2]])
    assert name_clusters(centroids).segment_id_of_cluster == (4, 3)


def test_k3_picks_three_names_consistent_with_rules():
    centroids = np.array([ARCHETYPES[2], ARCHETYPES[3], ARCHETYPES[1]])
    assert name_clusters(centroids).segment_id_of_cluster == (2, 3, 1)


def test_ties_do_not_depend_on_cluster_order():
    # Identical centroids tie on every name: the result must be a permutation-consistent one.
    centroids = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    a = name_clusters(centroids).segment_id_of_cluster
    b = name_clusters(centroids[[2, 0, 1]]).segment_id_of_cluster
    assert b[0] == a[2]
    assert {b[1], b[2]} == {a[0], a[1]}
    assert name_clusters(centroids).segment_id_of_cluster == a  # repeatable


def test_name_clusters_as_keeps_given_ids_and_says_so():
    centroids = np.array([ARCHETYPES[i] for i in range(5)])
    assert name_clusters_as(centroids, (0, 1, 2, 3, 4)) == name_clusters(centroids)
    swapped = name_clusters_as(centroids, (3, 1, 2, 0, 4))
    assert swapped.segment_id_of_cluster == (3, 1, 2, 0, 4)
    assert swapped.score_matrix == name_clusters(centroids).score_matrix
    assert swapped.evidence[0] == (
        f"4th most orders (zF=-1.00); score -0.50 = 1.5*zF - zR + 0.5*zA; {KEPT_ID_NOTE}"
    )
    assert swapped.evidence[3].endswith(f"score +0.15 = 2*zA - 0.5*zF; {KEPT_ID_NOTE}")
    assert swapped.evidence[1] == name_clusters(centroids).evidence[1]
    with pytest.raises(ConfigError, match="distinct ids"):
        name_clusters_as(centroids, (0, 0, 2, 3, 4))
    with pytest.raises(ConfigError, match="one per cluster"):
        name_clusters_as(centroids, (0, 1, 2, 3))


@pytest.mark.parametrize("k", [0, 1, 11])
def test_k_outside_2_to_10_is_refused(k):
    with pytest.raises(ConfigError, match="k must be between 2 and 10"):
        name_clusters(np.zeros((k, 3)))


def test_wrong_shape_and_nan_are_refused():
    with pytest.raises(ConfigError, match="shape"):
        name_clusters(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="NaN"):
        name_clusters(np.array([[0.0, 0.0, np.nan], [1.0, 0.0, 0.0]]))


# -- name checks on mean profiles in original units -----------------------------------------


def profile(segment_id, count, recency, orders, revenue, order_value, **medians):
    """A segment profile; its medians are its means except the ones given by name."""
    mean = {
        "recency_days": recency,
        "count_orders": orders,
        "lifetime_revenue": revenue,
        "avg_order_value": order_value,
    }
    return {
        "segment_id": segment_id,
        "count": count,
        "mean": mean,
        "median": {**mean, **medians},
    }


# The mean profiles of the planted archetypes (sample data, 1,000 customers, seed 42, k=5).
PLANTED = [
    profile(0, 140, 91.1, 3.40, 9201.0, 2729.3),
    profile(1, 203, 223.3, 8.55, 1436.0, 167.1),
    profile(2, 295, 170.8, 1.58, 96.0, 60.6),
    profile(3, 140, 7.4, 30.86, 13212.0, 427.8),
    profile(4, 222, 32.3, 13.11, 1831.0, 138.6),
]
# Their overall mean recency, weighted by count: (140 * 91.1 + 203 * 223.3 + 295 * 170.8
# + 140 * 7.4 + 222 * 32.3) / 1000 = 116.68 days, written 116.7.


def test_name_checks_pass_on_planted_archetypes():
    # Median silences in usual gaps between purchases, as a run measures them.
    silences = {0: 1.8, 1: 4.47, 2: 9.0, 3: 0.15, 4: 1.55}
    checks = check_names([{**p, "median_silence_gaps": silences[p["segment_id"]]} for p in PLANTED])
    assert [c.segment_id for c in checks] == [0, 1, 2, 3, 4]
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]
    assert [c.rule for c in checks] == [SEGMENT_TYPES[s].rule for s in range(5)]
    assert checks[0].detail == (
        "mean order value 2729.30 is the highest of all segments (next: Champions (VIPs) 427.80); "
        "median order value 2729.30 is 5.20 times the overall mean 524.56 (at least 1.5 times); "
        "median orders 3.40: repeat buyers, not dormant one-time buyers"
    )
    assert checks[3].detail == (
        "mean orders 30.86 is the highest of all segments (next: Loyal Customers 13.11); "
        "mean revenue 13212.00 is the highest of all segments (next: Big Spenders 9201.00); "
        "mean recency 7.4 days is below the overall mean 116.7 days; "
        "median silence 0.15 usual gaps (at most 2: bought within about one usual gap)"
    )
    assert checks[1].detail == (
        "mean recency 223.3 days is the longest among segments other than Occasional Shoppers "
        "(next: Big Spenders 91.1 days); mean orders 8.55 is above the 1.58 of Occasional "
        "Shoppers; median orders 8.55 is at least 2.00 (repeat buyers); "
        "median silence 4.47 usual gaps (more than 1: silent for longer than the usual gap)"
    )
    assert checks[4].detail == (
        "mean recency 32.3 days is below the overall mean 116.7 days; "
        "mean orders 13.11 is above the 1.58 of Occasional Shoppers; "
        "mean orders 13.11 is below the 30.86 of Champions (VIPs); "
        "mean order value 138.60 is below the 2729.30 of Big Spenders; "
        "median orders 13.11 is at least 2.00 (repeat buyers); "
        "median silence 1.55 usual gaps (at most 2: bought within about one usual gap)"
    )
    # Without a measured rhythm the rhythm clauses are not decided, and say so.
    unmeasured = check_names(PLANTED)
    assert all(c.passed for c in unmeasured)
    assert unmeasured[1].detail.endswith(
        "median recency 223.3 days, but no usual gap between purchases is known (no purchase "
        "days measured), so 'silent for longer than the usual gap' not checked"
    )


def test_big_spenders_without_the_biggest_baskets_fail_with_the_numbers():
    # Like the former real-data model: "Big Spenders" landed on a lapsing, low-value cluster.
    table = [
        profile(0, 120, 250.0, 3.0, 500.0, 160.0),
        profile(1, 330, 265.0, 16.8, 3239.0, 183.8),
        profile(2, 150, 197.0, 2.3, 128.0, 50.0),
        profile(3, 460, 67.5, 37.3, 7752.0, 210.0),
        profile(4, 410, 92.6, 7.0, 1198.0, 175.0),
    ]
    checks = {c.segment_id: c for c in check_names(table)}
    assert not checks[0].passed
    assert checks[0].detail == (
        "mean order value 160.00 is not the highest of all segments: Champions (VIPs) has 210.00; "
        "median order value 160.00 is 0.92 times the overall mean 173.95 (not at least 1.5 times); "
        "median orders 3.00: repeat buyers, not dormant one-time buyers"
    )
    assert not checks[4].passed
    assert (
        "mean order value 175.00 is not below the 160.00 of Big Spenders; "
        "median orders 7.00 is at least 2.00 (repeat buyers)"
    ) in checks[4].detail
    assert [checks[s].passed for s in (1, 2, 3)] == [True, True, True]
    assert "NOT supported" in checks[0].describe()
    assert checks[0].describe().startswith("segment 0 'Big Spenders' is NOT supported")


def test_name_checks_only_compare_with_segments_the_model_has():
    table = [
        profile(1, 400, 250.0, 12.9, 2654.0, 226.7),
        profile(3, 700, 70.0, 26.2, 5390.0, 214.0),
        profile(4, 300, 60.0, 8.0, 900.0, 110.0),
    ]
    checks = {c.segment_id: c for c in check_names(table)}
    assert all(c.passed for c in checks.values())
    assert checks[1].detail == (
        "mean recency 250.0 days is the longest of all segments "
        "(next: Champions (VIPs) 70.0 days); mean orders 12.90 (no Occasional Shoppers segment "
        "to compare with); median orders 12.90 is at least 2.00 (repeat buyers); median recency "
        "250.0 days, but no usual gap between purchases is known (no purchase days measured), so "
        "'silent for longer than the usual gap' not checked"
    )
    assert "mean order value 110.00 (no Big Spenders segment to compare with)" in checks[4].detail


def test_ties_do_not_support_a_name():
    table = [profile(0, 10, 100.0, 2.0, 400.0, 200.0), profile(3, 10, 10.0, 30.0, 6000.0, 200.0)]
    check = check_names(table)[0]
    assert not check.passed
    assert "is not the highest of all segments: Champions (VIPs) has 200.00;" in check.detail


def test_name_check_round_trip_and_errors():
    check = check_names(PLANTED)[2]
    assert isinstance(check, NameCheck)
    assert NameCheck.from_dict(check.to_dict()) == check
    with pytest.raises(ConfigError, match="distinct segment ids"):
        check_names([PLANTED[0], PLANTED[0]])
    with pytest.raises(ConfigError, match="lifetime_revenue"):
        check_names([{"segment_id": 0, "count": 1, "mean": {"recency_days": 1.0}}])


def test_a_name_that_does_not_hold_is_replaced_by_one_that_does():
    # Three clusters: long silent with few orders, champion-like, loyal-like. The scores give
    # the first one At-Risk (Lapsing) (1.5 against Occasional Shoppers' 1.0), but its median
    # customer bought once: not a repeat buyer, so the name fails.
    centroids = np.array([[2.0, -1.0, 0.0], [-1.0, 1.5, 0.5], [-0.5, 0.5, -0.5]])
    first = name_clusters(centroids)
    assert first.segment_id_of_cluster == (1, 3, 4)
    profiles = [
        {**profile(1, 500, 400.0, 1.1, 80.0, 75.0, count_orders=1.0), "median_silence_gaps": 7.0},
        {**profile(3, 200, 10.0, 30.0, 6000.0, 200.0), "median_silence_gaps": 0.3},
        {**profile(4, 300, 30.0, 8.0, 800.0, 100.0), "median_silence_gaps": 1.2},
    ]
    assert [c.passed for c in check_names(profiles)] == [False, True, True]
    renamed = name_from_wider_catalogue(centroids, first, profiles)
    # Eligible: Occasional Shoppers (fewest orders, least revenue) and Hibernating / Lost
    # (silent for 7 usual gaps); Hibernating scores zR - 0.5*zF = 2.5 against 1.0.
    assert renamed.segment_id_of_cluster == (8, 3, 4)
    assert renamed.evidence[0] == (
        "longest since last purchase (zR=+2.00); score +2.50 = zR - 0.5*zF; renamed after the "
        "name check: the rule of At-Risk (Lapsing) does not hold"
    )
    assert renamed.evidence[1:] == first.evidence[1:]
    # Without a measured rhythm the wider names cannot hold: the relative name is the one left.
    unmeasured = [{k: v for k, v in p.items() if k != "median_silence_gaps"} for p in profiles]
    assert name_from_wider_catalogue(centroids, first, unmeasured).segment_id_of_cluster == (
        2,
        3,
        4,
    )
    # A repeat-buying first cluster keeps At-Risk (Lapsing): every name holds, nothing changes.
    repeat = [{**profiles[0], "median": {**profiles[0]["median"], "count_orders": 3.0}}]
    assert name_from_wider_catalogue(centroids, first, repeat + profiles[1:]) is first
