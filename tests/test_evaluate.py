"""Choosing k with evidence: stability, smallest segment, supported names."""

from __future__ import annotations

import numpy as np

from custseg.model.evaluation import bootstrap_stability, select_k
from custseg.model.segmenter import CustomerSegmenter
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
