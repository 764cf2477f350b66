"""CustomerSegmenter on small hand-built tables with known answers."""

import json

import numpy as np
import pytest
from sklearn.base import clone, is_clusterer
from sklearn.exceptions import NotFittedError

import custseg.model.initialisation as initialisation
from custseg.errors import (
    ConfigError,
    InputDataError,
    InsufficientDataError,
    ModelIntegrityError,
    SegmentationError,
)
from custseg.model.features import CLUSTER_FEATURES, FEATURES, TRANSFORMS
from custseg.model.metrics import evaluate_segmentation
from custseg.model.segmenter import CustomerSegmenter
from custseg.model.segmenter_dict import segmenter_from_dict, segmenter_to_dict
from custseg.sample import ARCHETYPES
from tests.support import HAND_BUILT_FEATURES as X
from tests.support import HAND_BUILT_SEGMENTS as EXPECTED
from tests.support import PlantedSample


def noise(seed=0, n=400):
    """Customers without any structure: where k-means++ depends on its seed."""
    A = np.random.default_rng(seed).uniform(0, 1, (n, 4)) * [365, 30, 0, 500]
    A[:, 1] = np.floor(A[:, 1]) + 1
    A[:, 2] = A[:, 1] * A[:, 3]
    return A


@pytest.fixture(scope="module")
def fitted():
    return CustomerSegmenter().fit(X)


def test_exact_segment_per_customer(fitted):
    assert fitted.labels_.tolist() == EXPECTED.tolist()
    assert fitted.segment_ids_ == (0, 1, 2, 3, 4)
    assert fitted.centroids_.shape == (5, 3)
    assert fitted.naming_.segment_id_of_cluster == (0, 1, 2, 3, 4)
    assert fitted.init_used_ == "anchors"


@pytest.mark.parametrize("random_state", [0, 1, 7, 123])
def test_names_survive_row_order_and_random_state(random_state):
    perm = np.random.default_rng(random_state).permutation(len(X))
    seg = CustomerSegmenter(random_state=random_state).fit(X[perm])
    assert seg.labels_.tolist() == EXPECTED[perm].tolist()


def test_params_and_init_only_store():
    seg = CustomerSegmenter(n_segments=3, random_state=1, n_init=4, init="k-means++")
    assert seg.get_params() == {
        "n_segments": 3,
        "random_state": 1,
        "n_init": 4,
        "init": "k-means++",
    }
    assert not hasattr(seg, "labels_")
    assert seg.set_params(n_segments=4) is seg and seg.n_segments == 4
    assert CustomerSegmenter().get_params() == {
        "n_segments": 5,
        "random_state": 42,
        "n_init": 10,
        "init": "anchors",
    }


def test_scikit_learn_recognises_a_clusterer(fitted):
    assert is_clusterer(CustomerSegmenter())
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "centroids_")
    assert copy.fit_predict(X).tolist() == fitted.labels_.tolist()
    assert repr(CustomerSegmenter(n_segments=3)) == "CustomerSegmenter(n_segments=3)"
    assert not hasattr(CustomerSegmenter, "transform")  # scale() is not KMeans.transform


def test_errors_are_the_ones_scikit_learn_users_catch():
    with pytest.raises(NotFittedError, match="not fitted"):
        CustomerSegmenter().predict(X)
    with pytest.raises(ValueError, match="between 2 and 10"):
        CustomerSegmenter(n_segments=11).fit(X)
    with pytest.raises(ValueError, match="one silence value per customer"):
        CustomerSegmenter().fit(X, silence_gaps=[1.0])
    with pytest.raises(ValueError, match="1 silence value"):
        CustomerSegmenter().fit(X, silence_gaps=[np.nan] + [1.0] * (len(X) - 1))
    with pytest.raises(ValueError, match="4 columns"):
        CustomerSegmenter().fit(X[:, :3])
    with pytest.raises(ValueError, match="5 segments from 4 customer"):
        CustomerSegmenter().fit(X[:4])


def test_clustering_space_leaves_revenue_out():
    assert FEATURES == ("recency_days", "count_orders", "lifetime_revenue", "avg_order_value")
    assert CLUSTER_FEATURES == ("recency_days", "count_orders", "avg_order_value")
    assert TRANSFORMS == {
        "recency_days": "identity",
        "count_orders": "log1p",
        "avg_order_value": "log1p",
    }
    # Revenue does not move anyone: only orders and order value do.
    seg = CustomerSegmenter().fit(X)
    other_revenue = X.copy()
    other_revenue[:, 2] = 1.0
    assert np.array_equal(seg.scale(other_revenue), seg.scale(X))


# -- initialisation ------------------------------------------------------------------------


def test_anchors_are_the_clearest_customers_of_each_name():
    # Ten customers in the scaled space (zR, zF, zA): one clear example of each name, five
    # near the middle. The top 10% of ten customers on a score is the one with the highest, so
    # each anchor is that name's example (its scores, by hand: Big Spenders 2*3 = 6, At-Risk
    # 3 + 0.5*0.5 = 3.25, Occasional 3 + 0.5 = 3.5, Champions 1 + 4.5 + 0.5 = 6, Loyal
    # 3 + 2 + 1 = 6, each ahead of every other customer's).
    examples = [
        [0.0, 0.0, 3.0],  # Big Spenders: huge baskets
        [3.0, 0.5, 0.0],  # At-Risk: silent for long
        [0.0, -3.0, -1.0],  # Occasional: few, small orders
        [-1.0, 3.0, 1.0],  # Champions: recent, frequent, good baskets
        [-3.0, 2.0, -2.0],  # Loyal: recent, frequent, small baskets
    ]
    middle = [[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1], [-0.1, 0, 0]]
    Z = np.array(examples + middle)
    assert initialisation.anchors(Z).tolist()[:5] == examples


def test_k_means_plus_plus_path():
    seg = CustomerSegmenter(init="k-means++", random_state=3).fit(X)
    assert seg.init_used_ == "k-means++"
    assert seg.labels_.tolist() == EXPECTED.tolist()
    assert segmenter_to_dict(seg)["params"]["init"] == "k-means++"
    # Unlike the anchors, k-means++ depends on its seed where the data has no clear structure.
    A = noise()
    a, b = (CustomerSegmenter(init="k-means++", random_state=r).fit(A) for r in (1, 2))
    assert not np.array_equal(a.centroids_, b.centroids_)


def test_anchors_fit_does_not_depend_on_random_state():
    A = noise()
    a, b = (segmenter_to_dict(CustomerSegmenter(random_state=r).fit(A)) for r in (1, 2))
    assert (a["params"].pop("random_state"), b["params"].pop("random_state")) == (1, 2)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["init_used"] == "anchors"


def test_k_below_5_keeps_the_best_anchor_combination():
    seg = CustomerSegmenter(n_segments=3).fit(X)
    # Champions and Loyal merge (Champions); At-Risk and Occasional merge and, with no cluster
    # of few orders left, their long silence makes them At-Risk.
    assert seg.segment_ids_ == (0, 1, 3)
    expected = {3: 3, 4: 3, 0: 0, 1: 1, 2: 1}
    assert seg.labels_.tolist() == [expected[s] for s in EXPECTED]
    assert all(check.passed for check in seg.name_checks_)
    # The lowest inertia of the 10 combinations of 3 anchors (measured: they range from
    # 12.6085 to 22.9896).
    assert round(seg.inertia_, 4) == 12.6085


def test_k4_merges_the_two_frequent_groups():
    seg = CustomerSegmenter(n_segments=4).fit(X)
    assert seg.segment_ids_ == (0, 1, 2, 3)
    expected = {3: 3, 4: 3, 0: 0, 1: 1, 2: 2}
    assert seg.labels_.tolist() == [expected[s] for s in EXPECTED]


def test_falls_back_to_k_means_plus_plus_when_every_anchor_start_empties_a_cluster(
    monkeypatch,
):
    # Five identical anchors: every start leaves all but one cluster empty.
    monkeypatch.setattr(initialisation, "anchors", lambda Z: np.repeat(Z[:1], 5, axis=0))
    seg = CustomerSegmenter(n_segments=3).fit(X)
    assert seg.init_used_ == "k-means++"
    assert segmenter_to_dict(seg)["init_used"] == "k-means++"
    assert sorted(set(seg.labels_.tolist())) == list(seg.segment_ids_)


def test_unknown_init_is_refused():
    with pytest.raises(ConfigError, match="init must be one of 'anchors', 'k-means\\+\\+'"):
        CustomerSegmenter(init="random").fit(X)


# -- prediction, scaling, profiles --------------------------------------------------------


def test_predict_equals_labels_and_new_rows(fitted):
    assert fitted.predict(X).tolist() == fitted.labels_.tolist()
    new = np.array([[2, 50, 10000, 200], [400, 1, 15, 15], [55, 2, 5000, 2500]], dtype=float)
    assert fitted.predict(new).tolist() == [3, 2, 0]
    assert fitted.segment_names([3, 0]) == ["Champions (VIPs)", "Big Spenders"]


def test_centroids_are_exact_member_means(fitted):
    Z = fitted.scale(X)
    for row, sid in enumerate(fitted.segment_ids_):
        assert np.array_equal(fitted.centroids_[row], Z[fitted.labels_ == sid].mean(axis=0))
    expected_inertia = sum(
        ((Z[fitted.labels_ == sid] - fitted.centroids_[row]) ** 2).sum()
        for row, sid in enumerate(fitted.segment_ids_)
    )
    assert fitted.inertia_ == pytest.approx(expected_inertia, rel=1e-12)
    assert fitted.inertia(X) == fitted.inertia_


def test_scale_is_log1p_then_standardized(fitted):
    Z = fitted.scale(X)
    assert Z.shape == (17, 3)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    # Three customers evenly spaced once transformed: recency 10, 20, 30 as it is; orders 1, 3, 7
    # and order value 9, 99, 999 after log1p (ln 2, 2 ln 2, 3 ln 2 and ln 10, 2 ln 10, 3 ln 10).
    # Standardised, every column is -sqrt(3/2), 0, +sqrt(3/2); without log1p the middle customer
    # would not be at 0. Revenue (third value) is not a clustering feature.
    A = np.array([[10, 1, 9, 9], [20, 3, 297, 99], [30, 7, 6993, 999]], dtype=float)
    edge = np.sqrt(1.5)
    np.testing.assert_allclose(
        CustomerSegmenter(n_segments=2).fit(A).scale(A),
        [[-edge, -edge, -edge], [0.0, 0.0, 0.0], [edge, edge, edge]],
        atol=1e-12,
    )


def test_constant_column_gets_scale_one():
    Xc = X.copy()
    Xc[:, 0] = 30.0
    seg = CustomerSegmenter(n_segments=2).fit(Xc)
    assert seg.scaler_scale_[0] == 1.0
    assert np.all(seg.scale(Xc)[:, 0] == 0.0)


def test_ties_go_to_lowest_segment_id():
    seg = segmenter_from_dict(segmenter_to_dict(CustomerSegmenter(n_segments=2).fit(X)))
    seg.centroids_ = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    midpoint = np.array([[seg.scaler_mean_[0], 0.0, 0.0, 0.0]])
    midpoint[0, 1] = np.expm1(seg.scaler_mean_[1])
    midpoint[0, 3] = np.expm1(seg.scaler_mean_[2])
    assert seg.predict(midpoint).tolist() == [seg.segment_ids_[0]]


def test_profiles(fitted):
    profiles = {p["segment_id"]: p for p in fitted.profiles_}
    assert [p["segment_id"] for p in fitted.profiles_] == [0, 1, 2, 3, 4]
    assert profiles[0]["count"] == 3 and profiles[0]["share"] == 3 / 17
    assert profiles[0]["segment_name"] == "Big Spenders"
    assert profiles[3]["median"] == {
        "recency_days": 4.5,
        "count_orders": 41.0,
        "lifetime_revenue": 8200.0,
        "avg_order_value": 200.0,
    }
    assert profiles[2]["mean"]["lifetime_revenue"] == pytest.approx(85 / 3)
    assert sum(p["count"] for p in fitted.profiles_) == len(X)


def test_name_checks_pass_on_the_hand_built_archetypes(fitted):
    assert [c.segment_id for c in fitted.name_checks_] == [0, 1, 2, 3, 4]
    assert all(c.passed for c in fitted.name_checks_)
    assert fitted.unsupported_names() == ()
    assert fitted.name_checks_[0].detail == (
        "mean order value 1466.67 is the highest of all segments (next: Champions (VIPs) 200.00); "
        "median order value 1500.00 is 4.49 times the overall mean 334.41 (at least 1.5 times); "
        "median orders 2.00: repeat buyers, not dormant one-time buyers"
    )
    assert (
        "mean recency 4.8 days is below the overall mean 95.5 days; median recency 4.5 days, "
        "but no usual gap between purchases is known"
    ) in fitted.name_checks_[3].detail


# -- serialisation ---------------------------------------------------------------------------


def test_the_model_dict_is_json_and_round_trips(fitted):
    d = segmenter_to_dict(fitted)
    restored = segmenter_from_dict(json.loads(json.dumps(d)))
    assert restored.predict(X).tolist() == fitted.labels_.tolist()
    grid = np.random.default_rng(0).uniform(0, 1, (500, 4)) * [365, 60, 20000, 3000]
    assert restored.predict(grid).tolist() == fitted.predict(grid).tolist()
    assert np.array_equal(restored.centroids_, fitted.centroids_)
    assert restored.naming_ == fitted.naming_
    assert restored.name_checks_ == fitted.name_checks_
    assert restored.init_used_ == "anchors"
    assert segmenter_to_dict(restored) == d
    assert d["features"] == list(FEATURES)
    assert d["cluster_features"] == list(CLUSTER_FEATURES)
    assert d["init_used"] == "anchors"
    assert [s["segment_name"] for s in d["segments"]] == [
        "Big Spenders",
        "At-Risk (Lapsing)",
        "Occasional Shoppers",
        "Champions (VIPs)",
        "Loyal Customers",
    ]
    assert [c["segment_id"] for c in d["name_checks"]] == [0, 1, 2, 3, 4]
    assert d["name_checks"][0]["passed"] is True
    big = d["segments"][0]
    assert "weak_match" not in big
    assert big["evidence"] == "highest order value (zA=+1.79); score +4.13 = 2*zA - 0.5*zF"
    assert list(big["centroid_original_units"]) == list(CLUSTER_FEATURES)
    # The mean of log1p(1500), log1p(1500), log1p(1400), back in dollars.
    assert big["centroid_original_units"]["avg_order_value"] == pytest.approx(1465.8977415)
    assert d["segments"][2]["centroid_original_units"]["recency_days"] == pytest.approx(160.0)


def test_a_model_dict_with_other_features_is_refused(fitted):
    d = segmenter_to_dict(fitted)
    d["features"] = ["a", "b", "c", "d"]
    with pytest.raises(ModelIntegrityError, match="Retrain"):
        segmenter_from_dict(d)
    d = segmenter_to_dict(fitted)
    del d["segments"][0]["centroid_scaled"]
    with pytest.raises(ModelIntegrityError, match="malformed"):
        segmenter_from_dict(d)
    d = segmenter_to_dict(fitted)
    d["name_checks"] = d["name_checks"][::-1]
    with pytest.raises(ModelIntegrityError, match="name checks do not match"):
        segmenter_from_dict(d)


def test_a_former_4_dimensional_model_is_refused(fitted):
    d = segmenter_to_dict(fitted)
    # What custseg wrote before revenue left the clustering space.
    del d["cluster_features"]
    d["transforms"] = {
        "recency_days": "identity",
        "count_orders": "log1p",
        "lifetime_revenue": "log1p",
        "avg_order_value": "log1p",
    }
    for segment in d["segments"]:
        segment["centroid_scaled"].append(0.0)
    with pytest.raises(ModelIntegrityError, match="lifetime revenue is no longer") as err:
        segmenter_from_dict(d)
    assert "clusters on ['recency_days', 'count_orders', 'lifetime_revenue'" in str(err.value)
    assert "Retrain the model" in str(err.value)


# -- errors ----------------------------------------------------------------------------------


def test_not_fitted():
    with pytest.raises(SegmentationError, match="not fitted"):
        CustomerSegmenter().predict(X)
    with pytest.raises(SegmentationError, match="not fitted"):
        CustomerSegmenter().unsupported_names()


@pytest.mark.parametrize("k", [1, 11])
def test_k_outside_2_to_10(k):
    with pytest.raises(ConfigError, match="between 2 and 10"):
        CustomerSegmenter(n_segments=k).fit(X)


def test_too_few_customers():
    with pytest.raises(InsufficientDataError, match="5 segments from 4 customer"):
        CustomerSegmenter().fit(X[:4])


def test_identical_customers():
    same = np.repeat(X[:1], 10, axis=0)
    same[5:] = X[5]
    with pytest.raises(InsufficientDataError, match="10 customers have only 2 distinct"):
        CustomerSegmenter(n_segments=3).fit(same)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        (0, -1.0, "recency_days: 2 row\\(s\\) negative"),
        (2, np.nan, "lifetime_revenue: 2 row\\(s\\) NaN or infinite"),
        (3, np.inf, "avg_order_value: 2 row\\(s\\) NaN or infinite"),
    ],
)
def test_bad_values_name_the_column(column, value, match):
    bad = X.copy()
    bad[[1, 6], column] = value
    with pytest.raises(InputDataError, match=match):
        CustomerSegmenter().fit(bad)


def test_wrong_shape():
    with pytest.raises(InputDataError, match="4 columns"):
        CustomerSegmenter().fit(X[:, :3])


def test_metrics(fitted):
    m = evaluate_segmentation(
        fitted.scale(X), fitted.labels_, inertia=fitted.inertia_, random_state=0
    )
    assert m["n_customers"] == 17 and m["k"] == 5
    assert m["segment_counts"] == {"0": 3, "1": 3, "2": 3, "3": 4, "4": 4}
    assert m["segment_shares"]["3"] == round(4 / 17, 10)
    assert m["silhouette_sample_size"] == 17
    assert 0.5 < m["silhouette"] < 1 and m["davies_bouldin"] > 0
    assert m["inertia"] == float(f"{fitted.inertia_:.10g}")
    one = evaluate_segmentation(X, np.zeros(17), inertia=1.0, random_state=0)
    assert one["silhouette"] is None and "at least 2 segments" in one["silhouette_note"]
    assert one["davies_bouldin"] is None


# -- planted archetypes of the synthetic generator ------------------------------------------


def test_planted_archetypes_are_recovered(planted_sample: PlantedSample):
    seg = CustomerSegmenter().fit(planted_sample.features.matrix)
    names = seg.segment_names(seg.labels_)
    agreement = np.mean([a == b for a, b in zip(names, planted_sample.archetypes, strict=True)])
    assert set(planted_sample.archetypes) == set(ARCHETYPES)
    # Measured: 0.995 (seed 42, 1,000 customers).
    assert agreement >= 0.97, f"{agreement:.4f} of the customers get their planted archetype"
    assert seg.init_used_ == "anchors"
    assert seg.unsupported_names() == ()
