"""Stable segment ids across retrains: optimal matching to the published model."""

from __future__ import annotations

import numpy as np
import pytest

from custseg.matching import match_segments
from custseg.segmenter import CustomerSegmenter

# Five hand-made groups of customers: recency_days, count_orders, average order value.
GROUPS = {
    "champions": (5, 40, 200),
    "loyal": (20, 12, 100),
    "big": (90, 3, 2000),
    "at_risk": (250, 10, 150),
    "occasional": (150, 1, 40),
}


def customers(shift: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for recency, orders, aov in GROUPS.values():
        for _ in range(30):
            noise = rng.normal(1.0, 0.05)
            o = max(1.0, round(orders * noise))
            a = aov * rng.normal(1.0, 0.05) * (1 + shift)
            rows.append((recency * noise + 1, o, o * a, a))
    return np.array(rows, dtype=np.float64)


def test_a_retrain_on_barely_changed_data_keeps_every_id() -> None:
    before = CustomerSegmenter().fit(customers(seed=0))
    after = CustomerSegmenter().fit(customers(seed=1))
    result = match_segments(after, before)
    assert not result.definitions_changed
    assert result.mapping == {segment_id: segment_id for segment_id in after.segment_ids_}
    assert max(m.distance for m in result.matches) < 0.5
    assert "ids kept" in result.reason


def test_matching_recovers_a_renumbering_of_the_previous_model() -> None:
    model = CustomerSegmenter().fit(customers())
    swapped = {0: 1, 1: 0, 2: 2, 3: 4, 4: 3}
    previous = model.with_segment_ids(swapped)
    result = match_segments(model, previous)
    assert not result.definitions_changed
    assert result.mapping == swapped
    kept = model.with_segment_ids(result.mapping)
    np.testing.assert_array_equal(kept.predict(customers()), previous.predict(customers()))


def test_a_large_move_is_reported_as_changed_definitions() -> None:
    before = CustomerSegmenter().fit(customers())
    after = CustomerSegmenter().fit(customers(shift=3.0))
    result = match_segments(after, before, max_centroid_shift=0.2)
    assert result.definitions_changed
    assert "standard deviations, more than the 0.2 allowed" in result.reason
    document = result.to_dict()
    assert document["definitions_changed"] is True
    assert len(document["matches"]) == 5


def test_another_number_of_segments_cannot_keep_ids() -> None:
    before = CustomerSegmenter(n_segments=5).fit(customers())
    after = CustomerSegmenter(n_segments=3).fit(customers())
    result = match_segments(after, before)
    assert result.definitions_changed
    assert result.reason == "the previous model has 5 segments and the new one 3"
    assert len(result.matches) == 3


@pytest.mark.parametrize("limit", [0.0001, 100.0])
def test_the_limit_decides(limit: float) -> None:
    before = CustomerSegmenter().fit(customers(seed=0))
    after = CustomerSegmenter().fit(customers(seed=1))
    assert match_segments(after, before, max_centroid_shift=limit).definitions_changed is (
        limit < 0.01
    )
