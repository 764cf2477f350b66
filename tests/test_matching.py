"""Stable segment ids across retrains: optimal matching to the published model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from custseg.errors import ConfigError, SegmentationError
from custseg.model.matching import MatchResult, match_segments, with_segment_ids
from custseg.model.naming import KEPT_ID_NOTE
from custseg.model.segmenter import CustomerSegmenter
from custseg.model.segmenter_dict import segmenter_from_dict, segmenter_to_dict
from tests.support import HAND_BUILT_FEATURES as X
from tests.support import HAND_BUILT_SEGMENTS as EXPECTED
from tests.support import five_groups


def test_a_retrain_on_barely_changed_data_keeps_every_id() -> None:
    before = CustomerSegmenter().fit(five_groups(seed=0))
    after = CustomerSegmenter().fit(five_groups(seed=1))
    result = match_segments(after, before)
    assert not result.definitions_changed
    assert result.mapping == {segment_id: segment_id for segment_id in after.segment_ids_}
    assert max(m.distance for m in result.matches) < 0.5
    assert "ids kept" in result.reason


def test_matching_recovers_a_renumbering_of_the_previous_model() -> None:
    model = CustomerSegmenter().fit(five_groups())
    swapped = {0: 1, 1: 0, 2: 2, 3: 4, 4: 3}
    previous = with_segment_ids(model, swapped)
    result = match_segments(model, previous)
    assert not result.definitions_changed
    assert result.mapping == swapped
    kept = with_segment_ids(model, result.mapping)
    np.testing.assert_array_equal(kept.predict(five_groups()), previous.predict(five_groups()))


def test_a_large_move_is_reported_as_changed_definitions() -> None:
    before = CustomerSegmenter().fit(five_groups())
    after = CustomerSegmenter().fit(five_groups(shift=3.0))
    result = match_segments(after, before, max_centroid_shift=0.2)
    assert result.definitions_changed
    assert "standard deviations, more than the 0.2 allowed" in result.reason
    document = result.to_dict()
    assert document["definitions_changed"] is True
    assert len(document["matches"]) == 5


def test_a_match_reads_back_from_the_model_file_form() -> None:
    # The publish step of custseg.steps rebuilds the match of a candidate from its model file.
    model = CustomerSegmenter().fit(five_groups())
    result = match_segments(model, with_segment_ids(model, {0: 1, 1: 0, 2: 2, 3: 4, 4: 3}))
    document = json.loads(json.dumps(result.to_dict()))
    read = MatchResult.from_dict(document)
    assert read.mapping == result.mapping == {0: 1, 1: 0, 2: 2, 3: 4, 4: 3}
    assert read.to_dict() == result.to_dict()
    assert (read.definitions_changed, read.reason) == (False, result.reason)


def test_another_number_of_segments_cannot_keep_ids() -> None:
    before = CustomerSegmenter(n_segments=5).fit(five_groups())
    after = CustomerSegmenter(n_segments=3).fit(five_groups())
    result = match_segments(after, before)
    assert result.definitions_changed
    assert result.reason == "the previous model has 5 segments and the new one 3"
    assert len(result.matches) == 3


@pytest.mark.parametrize("limit", [0.0001, 100.0])
def test_the_limit_decides(limit: float) -> None:
    before = CustomerSegmenter().fit(five_groups(seed=0))
    after = CustomerSegmenter().fit(five_groups(seed=1))
    assert match_segments(after, before, max_centroid_shift=limit).definitions_changed is (
        limit < 0.01
    )


# -- relabelling for stable ids -------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> CustomerSegmenter:
    return CustomerSegmenter().fit(X)


def test_with_segment_ids_relabels_consistently(fitted):
    before = segmenter_to_dict(fitted)
    mapping = {0: 3, 3: 0, 1: 1, 2: 2, 4: 4}  # swap Big Spenders and Champions
    relabelled = with_segment_ids(fitted, mapping)
    assert segmenter_to_dict(fitted) == before  # the fitted model is unchanged
    assert relabelled.segment_ids_ == (0, 1, 2, 3, 4)
    assert relabelled.labels_.tolist() == [mapping[s] for s in EXPECTED]
    assert relabelled.predict(X).tolist() == relabelled.labels_.tolist()
    assert np.array_equal(relabelled.centroids_[3], fitted.centroids_[0])
    assert np.array_equal(relabelled.centroids_[0], fitted.centroids_[3])
    assert relabelled.profiles_[3]["segment_name"] == "Champions (VIPs)"
    assert relabelled.profiles_[3]["count"] == 3  # the former Big Spenders
    assert relabelled.naming_.segment_id_of_cluster == (0, 1, 2, 3, 4)
    assert relabelled.naming_.evidence[3].endswith(f"; {KEPT_ID_NOTE}")
    assert relabelled.naming_.evidence[1] == fitted.naming_.evidence[1]
    # The checks are recomputed for the new names: neither swapped name fits its profile.
    assert [c.segment_id for c in relabelled.unsupported_names()] == [0, 3, 4]
    assert relabelled.name_checks_[0].detail == (
        "mean order value 200.00 is not the highest of all segments: Champions (VIPs) has 1466.67"
        "; median order value 200.00 is 0.60 times the overall mean 334.41 (not at least 1.5 times)"
        "; median orders 41.00: repeat buyers, not dormant one-time buyers"
    )
    restored = segmenter_from_dict(json.loads(json.dumps(segmenter_to_dict(relabelled))))
    assert restored.predict(X).tolist() == relabelled.labels_.tolist()


def test_with_segment_ids_round_trip(fitted):
    mapping = {0: 2, 1: 4, 2: 0, 3: 1, 4: 3}
    inverse = {new: old for old, new in mapping.items()}
    there = with_segment_ids(fitted, mapping)
    back = with_segment_ids(there, inverse)
    assert segmenter_to_dict(back) == segmenter_to_dict(fitted)
    assert back.labels_.tolist() == fitted.labels_.tolist()
    assert segmenter_to_dict(
        with_segment_ids(fitted, {s: s for s in range(5)})
    ) == segmenter_to_dict(fitted)


def test_with_segment_ids_can_use_ids_the_model_did_not_use():
    seg = CustomerSegmenter(n_segments=3).fit(X)
    assert seg.segment_ids_ == (0, 1, 3)
    relabelled = with_segment_ids(seg, {0: 0, 1: 2, 3: 3})
    assert relabelled.segment_ids_ == (0, 2, 3)
    assert relabelled.predict(X).tolist() == [{0: 0, 1: 2, 3: 3}[s] for s in seg.labels_]
    assert relabelled.profiles_[1]["segment_name"] == "Occasional Shoppers"
    assert relabelled.naming_.evidence[1] == (
        f"2nd fewest orders (zF=-0.60); score +0.90 = -zF - 0.5*zA; {KEPT_ID_NOTE}"
    )


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({0: 1, 1: 1, 2: 2, 3: 3, 4: 4}, "same id"),
        ({0: 0, 1: 1, 2: 2, 3: 3}, "no new id for segment\\(s\\) \\[4\\]"),
        ({0: 0, 1: 1, 2: 2, 3: 3, 4: 10}, "10, which is not a known segment id"),
        ({0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}, "Segment 5 is not a segment of this model"),
        ([(0, 0)], "needs a mapping"),
    ],
)
def test_with_segment_ids_validates_the_mapping(fitted, mapping, match):
    with pytest.raises(ConfigError, match=match):
        with_segment_ids(fitted, mapping)


def test_relabelling_needs_a_fitted_model():
    with pytest.raises(SegmentationError, match="not fitted"):
        with_segment_ids(CustomerSegmenter(), {})
