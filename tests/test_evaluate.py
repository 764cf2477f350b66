"""Choosing k with evidence: stability, smallest segment, supported names."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from sklearn.metrics import adjusted_rand_score

from custseg.model.evaluation import (
    ALL_KS,
    KSelection,
    adjusted_rand_index,
    bootstrap_stability,
    restart_stabilities,
    select_k,
)
from custseg.model.fitting import choose_k, fit_rows
from custseg.model.metrics import evaluate_segmentation
from custseg.model.segmenter import CustomerSegmenter
from custseg.settings import DEFAULTS
from tests.support import five_groups as customers


def test_bootstrap_of_well_separated_groups_is_perfectly_stable() -> None:
    X = customers()
    model = CustomerSegmenter().fit(X)
    result = bootstrap_stability(X, model.labels_, model, n_draws=5, random_state=1)
    assert (result.ari_mean, result.ari_worst) == (1.0, 1.0)
    assert result.n_draws == 5


def test_select_k_reports_every_k_and_finds_the_five_groups() -> None:
    X = customers()
    selection = select_k(X, ks=(2, 3, 4, 5), n_bootstrap=3)
    assert [e.k for e in selection.evaluations] == [2, 3, 4, 5]
    five = selection.evaluations[-1]
    assert five.smallest_segment_share == 0.2
    assert five.unsupported_names == []
    assert five.eligible
    # Five well separated groups: five segments describe them best, and are chosen.
    assert max(selection.evaluations, key=lambda e: e.silhouette).k == 5
    assert selection.chosen_k == 5
    assert selection.reason.startswith("k=5 has the highest silhouette")
    document = selection.to_dict()
    assert document["min_segment_share"] == 0.05
    assert len(document["evaluations"]) == 4


def test_the_business_constraint_decides_eligibility() -> None:
    # Five equal groups: every segment holds 20% of the customers.
    X = customers()
    assert select_k(X, ks=(5,), n_bootstrap=2, min_segment_share=0.19).chosen_k == 5
    strict = select_k(X, ks=(5,), n_bootstrap=2, min_segment_share=0.21)
    assert strict.chosen_k is None
    assert not strict.evaluations[0].eligible


def test_no_eligible_k_gives_no_choice_and_says_why() -> None:
    selection = select_k(customers(), ks=(5,), n_bootstrap=2, min_segment_share=0.5)
    assert selection.chosen_k is None
    assert "no k in [5]" in selection.reason
    assert np.isclose(selection.evaluations[0].smallest_segment_share, 0.2)


def test_every_k_is_fitted_on_the_given_rows_and_every_customer_is_assigned() -> None:
    X = np.vstack([customers(seed=1), customers(seed=2)])
    rows = np.sort(np.random.default_rng(3).choice(len(X), size=150, replace=False))
    on_sample = select_k(X, ks=(3, 5), fit_rows=rows, n_bootstrap=3)
    on_rows_only = select_k(X[rows], ks=(3, 5), n_bootstrap=3)
    assert (on_sample.n_customers, on_sample.fit_sample_size) == (300, 150)
    assert on_rows_only.fit_sample_size is None
    for whole, fitted in zip(on_sample.evaluations, on_rows_only.evaluations, strict=True):
        # The fit, its names and the bootstrap come from the sampled rows alone ...
        assert whole.segment_names == fitted.segment_names
        assert whole.stability_ari_mean == fitted.stability_ari_mean
        assert whole.stability_ari_worst == fitted.stability_ari_worst
    # ... and the shares from every customer, assigned to the nearest centroid.
    model = CustomerSegmenter(n_segments=5).fit(X[rows])
    shares = np.bincount(model.predict(X)) / len(X)
    assert on_sample.evaluations[1].smallest_segment_share == round(shares[shares > 0].min(), 6)


def test_choose_k_fits_on_the_rows_a_run_fits_on() -> None:
    X = np.vstack([customers(seed=s) for s in range(8)])
    settings = dataclasses.replace(DEFAULTS, fit_sample_size=1000)
    chosen = choose_k(X, settings)
    expected = select_k(X, ks=ALL_KS, fit_rows=fit_rows(len(X), settings))
    assert chosen.to_dict() == expected.to_dict()
    assert chosen.fit_sample_size == 1000


def test_the_evaluation_is_reproducible() -> None:
    X = np.vstack([customers(seed=4), customers(seed=5)])
    first = json.dumps(select_k(X, ks=(2, 5, 6), n_bootstrap=4).to_dict(), sort_keys=True)
    again = json.dumps(select_k(X, ks=(2, 5, 6), n_bootstrap=4).to_dict(), sort_keys=True)
    assert first == again
    restored = KSelection.from_dict(json.loads(first))
    assert json.dumps(restored.to_dict(), sort_keys=True) == first


def test_the_evaluation_of_all_customers_keeps_the_fit_quality_figures() -> None:
    # Fitted on every customer, the quality figures are those of evaluate_segmentation on the fit.
    X = customers()
    evaluation = select_k(X, ks=(5,), n_bootstrap=2).evaluations[0]
    model = CustomerSegmenter(n_segments=5).fit(X)
    metrics = evaluate_segmentation(
        model.scale(X), model.labels_, inertia=model.inertia_, random_state=42
    )
    assert (evaluation.silhouette, evaluation.davies_bouldin, evaluation.inertia) == (
        metrics["silhouette"],
        metrics["davies_bouldin"],
        metrics["inertia"],
    )


def test_restarts_from_well_separated_groups_are_perfectly_stable() -> None:
    X = customers()
    model = CustomerSegmenter().fit(X)
    (result,) = restart_stabilities(
        model.scale(X), [model.centroids_], [model.labels_], n_draws=5, random_state=1
    )
    assert (result.ari_mean, result.ari_worst, result.n_draws) == (1.0, 1.0, 5)


def test_adjusted_rand_index_is_scikit_learns() -> None:
    rng = np.random.default_rng(7)
    for size, k_a, k_b in [(50, 2, 3), (1000, 5, 5), (1000, 8, 4), (7, 1, 2)]:
        a, b = rng.integers(0, k_a, size), rng.integers(0, k_b, size)
        assert adjusted_rand_index(a, b) == adjusted_rand_score(a, b)
        assert adjusted_rand_index(a, a) == 1.0
