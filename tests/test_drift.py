"""Drift: the training data's bins in the model file, and the measures on hand-computed data."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from custseg.errors import InputDataError, ModelIntegrityError
from custseg.model.drift_reference import (
    DRIFT_REFERENCE_KEY,
    DriftReference,
    FeatureBins,
    drift_reference_of,
    fit_drift_reference,
    fit_feature_bins,
)
from custseg.model.fitting import fit_segments
from custseg.model.model_file import canonical_json, load_model, model_document
from custseg.model.segmenter import CustomerSegmenter
from custseg.monitoring.drift import (
    PSI_FLOOR,
    DriftAlarm,
    DriftReport,
    DriftThresholds,
    Segmentation,
    centroid_movement,
    drift_against_previous,
    drift_against_training,
    kept_segment_share,
    population_stability_index,
    segment_centres,
    share_shift,
)
from custseg.publish.atomic import write_json_atomic
from custseg.publish.seeds import render_feature_bins_csv
from custseg.settings import DEFAULTS
from tests.support import HAND_BUILT_FEATURES as X
from tests.support import resealed_model

IDS = tuple(f"C{i:02d}" for i in range(len(X)))
THRESHOLDS = DriftThresholds(psi_alarm=0.25, share_shift_alarm=0.10, kept_share_min=0.70)


def features(recency, orders, order_value):
    """A (n, 4) feature matrix; lifetime revenue is orders times order value."""
    recency, orders, value = (
        np.asarray(v, dtype=np.float64) for v in (recency, orders, order_value)
    )
    return np.column_stack([recency, orders, orders * value, value])


# ----------------------------------------------------------------------------- PSI


def test_psi_of_identical_distributions_is_zero() -> None:
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    bins = fit_feature_bins("recency_days", X[:, 0])
    assert population_stability_index(bins.shares_of(X[:, 0]), bins.reference_shares) == 0.0


def test_psi_of_three_bins_by_hand() -> None:
    # (0.4 - 0.5) ln(0.4 / 0.5) + (0.4 - 0.3) ln(0.4 / 0.3) + 0 = 0.1 ln(1.25) + 0.1 ln(4/3)
    #                                                            = 0.1 ln(5/3)
    psi = population_stability_index([0.4, 0.4, 0.2], [0.5, 0.3, 0.2])
    assert psi == pytest.approx(0.1 * math.log(5 / 3), rel=1e-12)
    assert psi == pytest.approx(0.0510825623766, abs=1e-12)


def test_an_empty_bin_is_floored_so_psi_is_finite() -> None:
    # The new sample leaves bin 0 empty: its share counts as the floor, 1e-4.
    expected = (PSI_FLOOR - 0.5) * math.log(PSI_FLOOR / 0.5) + 0.5 * math.log(1.0 / 0.5)
    psi = population_stability_index([0.0, 1.0], [0.5, 0.5])
    assert math.isfinite(psi) and psi > 0
    assert psi == pytest.approx(expected, rel=1e-12)
    assert psi == pytest.approx(4.6043193, abs=1e-6)
    # Empty on both sides: the bin adds nothing.
    assert population_stability_index([0.0, 1.0], [0.0, 1.0]) == 0.0
    # Another floor, another figure: the floor is a parameter.
    assert population_stability_index([0.0, 1.0], [0.5, 0.5], floor=0.01) == pytest.approx(
        (0.01 - 0.5) * math.log(0.01 / 0.5) + 0.5 * math.log(2.0), rel=1e-12
    )


def test_psi_refuses_shares_that_cannot_be_compared() -> None:
    with pytest.raises(ValueError, match="cannot be compared"):
        population_stability_index([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        population_stability_index([-0.1, 1.1], [0.5, 0.5])


# ----------------------------------------------------------------------------- bins


def test_bins_are_the_deciles_of_the_reference() -> None:
    bins = fit_feature_bins("recency_days", np.arange(1.0, 11.0))
    assert bins.edges == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    assert bins.reference_shares == (0.1,) * 10


def test_a_discrete_feature_gets_fewer_bins() -> None:
    # Deciles 0.1..0.6 are 1, 0.7 and 0.8 are 2, 0.9 is 3: edges 1, 2, 3.
    bins = fit_feature_bins("count_orders", [1, 1, 1, 1, 1, 1, 2, 2, 3, 7])
    assert bins.edges == (1.0, 2.0, 3.0)
    assert bins.reference_shares == (0.6, 0.2, 0.1, 0.1)
    # The 0.9 decile is the largest value: kept, it would leave the last bin empty.
    bins = fit_feature_bins("count_orders", [1, 1, 1, 1, 1, 1, 1, 1, 5, 5])
    assert (bins.edges, bins.reference_shares) == ((1.0,), (0.8, 0.2))
    # One value for everyone: one bin, open at both ends.
    bins = fit_feature_bins("count_orders", [2, 2, 2])
    assert (bins.edges, bins.reference_shares, bins.bounds()) == ((), (1.0,), [(None, None)])


def test_a_bin_holds_values_above_its_lower_edge_up_to_its_upper_edge() -> None:
    bins = FeatureBins("count_orders", (1.0, 2.0, 3.0), (0.25, 0.25, 0.25, 0.25))
    assert bins.bin_index(np.array([0.5, 1, 1.5, 2, 3, 4, 1e9])).tolist() == [0, 0, 1, 1, 2, 3, 3]
    assert bins.bounds() == [(None, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, None)]
    assert bins.shares_of(np.array([1.0, 4.0, 4.0, 5.0])).tolist() == [0.25, 0.0, 0.0, 0.75]


def test_the_reference_is_every_customer_not_the_fit_sample() -> None:
    settings = dataclasses.replace(DEFAULTS, fit_sample_size=len(X) - 5)
    fitted = fit_segments(X, settings)
    assert fitted.fit_sample_size == len(X) - 5
    reference = fitted.drift_reference
    assert reference.n_customers == len(X)
    assert [b.feature for b in reference.feature_bins] == [
        "recency_days",
        "count_orders",
        "avg_order_value",
    ]
    counts = np.bincount(fitted.labels)
    assert reference.segment_shares == {sid: counts[sid] / len(X) for sid in range(5)}
    assert reference.bins_of("avg_order_value") == fit_feature_bins("avg_order_value", X[:, 3])


# ----------------------------------------------------------------- the other measures


def test_share_shift_counts_an_absent_segment_as_zero() -> None:
    assert share_shift({0: 0.5, 1: 0.5}, {1: 0.25, 2: 0.75}) == {0: 0.5, 1: 0.25, 2: -0.75}


def test_kept_share_counts_the_customers_of_both_runs() -> None:
    then = Segmentation(("a", "b", "c", "d"), features([1] * 4, [1] * 4, [1] * 4), [0, 1, 2, 3])
    now = Segmentation(("b", "c", "d", "e"), features([1] * 4, [1] * 4, [1] * 4), [1, 0, 3, 3])
    # b, c and d are in both; b and d kept their segment.
    assert kept_segment_share(now, then) == (2 / 3, 3)
    stranger = Segmentation(("z",), features([1], [1], [1]), [0])
    assert kept_segment_share(stranger, then) == (None, 0)


def test_centroid_movement_in_original_units_by_hand() -> None:
    # Segment 0 then: recency 10 and 20 (mean 15); orders 1 and 3: expm1((ln 2 + ln 4) / 2)
    # = sqrt(8) - 1; order value 9 and 99: expm1((ln 10 + ln 100) / 2) = sqrt(1000) - 1.
    then = Segmentation(("a", "b", "c"), features([10, 20, 5], [1, 3, 7], [9, 99, 1]), [0, 0, 1])
    now = Segmentation(("a", "b", "d"), features([20, 40, 5], [3, 3, 7], [9, 99, 1]), [0, 0, 2])
    centres = segment_centres(then)
    assert centres[0]["recency_days"] == pytest.approx(15.0, rel=1e-12)
    assert centres[0]["count_orders"] == pytest.approx(math.sqrt(8) - 1, rel=1e-12)
    assert centres[0]["avg_order_value"] == pytest.approx(math.sqrt(1000) - 1, rel=1e-12)
    movement = centroid_movement(segment_centres(now), centres)
    assert list(movement) == [0]  # segments 1 and 2 are on one side only
    assert movement[0]["recency_days"] == pytest.approx(15.0, rel=1e-12)
    assert movement[0]["count_orders"] == pytest.approx(3 - (math.sqrt(8) - 1), rel=1e-12)
    assert movement[0]["avg_order_value"] == pytest.approx(0.0, abs=1e-9)


def test_a_segmentation_refuses_repeated_ids_and_wrong_shapes() -> None:
    with pytest.raises(InputDataError, match="customer id twice"):
        Segmentation(("a", "a"), features([1, 2], [1, 1], [1, 1]), [0, 0])
    with pytest.raises(InputDataError, match="one segment id per customer"):
        Segmentation(("a", "b"), features([1, 2], [1, 1], [1, 1]), [0])
    with pytest.raises(InputDataError, match="NaN or infinite feature or a negative segment"):
        Segmentation(("a",), features([np.nan], [1], [1]), [0])
    with pytest.raises(InputDataError, match="NaN or infinite feature or a negative segment"):
        Segmentation(("a",), features([1], [1], [1]), [-1])
    with pytest.raises(InputDataError, match="no customers"):
        Segmentation((), np.empty((0, 4)), np.empty(0))


# ----------------------------------------------------------------------------- alarms


def report(**changes) -> DriftReport:
    base = DriftReport(
        against="previous run",
        n_customers=100,
        n_reference_customers=90,
        feature_psi={"recency_days": 0.3, "count_orders": 0.25, "avg_order_value": 0.01},
        segment_share_shift={0: -0.12, 1: 0.1, 2: 0.02},
        kept_share=0.6,
        n_customers_in_both=80,
        centroid_movement={},
    )
    return dataclasses.replace(base, **changes)


def test_alarms_say_which_thresholds_are_passed() -> None:
    alarms = report().alarms(THRESHOLDS)
    # Strictly past a threshold: a PSI of exactly 0.25 or a shift of exactly 0.10 is not.
    assert alarms == (
        DriftAlarm("psi", "recency_days", 0.3, 0.25),
        DriftAlarm("segment_share_shift", "0", -0.12, 0.10),
        DriftAlarm("kept_share", "customers in both runs", 0.6, 0.70),
    )
    assert [alarm.message for alarm in alarms] == [
        "PSI of recency_days is 0.300, above 0.25",
        "share of segment 0 moved by -12.0%, more than 10.0%",
        "60.0% of the customers in both runs kept their segment, under 70.0%",
    ]
    quiet = report(feature_psi={"recency_days": 0.1}, segment_share_shift={0: 0.05}, kept_share=0.9)
    assert quiet.alarms(THRESHOLDS) == ()
    assert (report().max_psi, report().max_share_shift) == (0.3, 0.12)


def test_the_thresholds_are_the_settings() -> None:
    assert DriftThresholds.from_settings(DEFAULTS) == THRESHOLDS
    assert DriftThresholds.from_settings(
        dataclasses.replace(DEFAULTS, drift_psi_alarm=0.1)
    ).psi_alarm == (0.1)


# ------------------------------------------------- against the training data and the previous run


@pytest.fixture(scope="module")
def fitted() -> CustomerSegmenter:
    return CustomerSegmenter().fit(X)


@pytest.fixture(scope="module")
def document(fitted: CustomerSegmenter) -> dict:
    reference = fit_drift_reference(X, fitted.labels_, fitted.segment_ids_)
    return model_document(fitted, metadata={"k": 5}, drift_reference=reference)


def test_the_training_data_against_itself_does_not_drift(
    fitted: CustomerSegmenter, document: dict
) -> None:
    drift = drift_against_training(document, Segmentation(IDS, X, fitted.predict(X)))
    assert drift.feature_psi == {"recency_days": 0.0, "count_orders": 0.0, "avg_order_value": 0.0}
    assert set(drift.segment_share_shift.values()) == {0.0}
    assert (drift.kept_share, drift.n_customers, drift.n_reference_customers) == (None, 17, 17)
    assert "not available against the training data" in drift.notes[0]
    # The model was fitted on everyone: each segment's centre is its centroid.
    assert sorted(drift.centroid_movement) == [0, 1, 2, 3, 4]
    for moves in drift.centroid_movement.values():
        assert list(moves.values()) == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert drift.alarms(THRESHOLDS) == ()


def test_lapsing_customers_raise_the_recency_alarm(
    fitted: CustomerSegmenter, document: dict
) -> None:
    later = X.copy()
    later[:, 0] += 365  # a year without a purchase for everyone
    # Each customer kept in the segment of the training data, so each centre moves by a year.
    drift = drift_against_training(document, Segmentation(IDS, later, fitted.predict(X)))
    assert drift.feature_psi["recency_days"] > 0.25
    assert drift.feature_psi["count_orders"] == 0.0
    measures = {(alarm.measure, alarm.subject) for alarm in drift.alarms(THRESHOLDS)}
    assert ("psi", "recency_days") in measures
    assert ("psi", "count_orders") not in measures
    for moves in drift.centroid_movement.values():
        assert moves["recency_days"] == pytest.approx(365.0, rel=1e-9)
        assert moves["count_orders"] == pytest.approx(0.0, abs=1e-9)


def test_an_older_model_file_has_no_training_drift_but_still_centroids(
    fitted: CustomerSegmenter, document: dict
) -> None:
    older = {key: value for key, value in document.items() if key != DRIFT_REFERENCE_KEY}
    drift = drift_against_training(older, Segmentation(IDS, X, fitted.predict(X)))
    assert (drift.feature_psi, drift.segment_share_shift, drift.n_reference_customers) == (
        {},
        {},
        None,
    )
    assert drift.notes[0].startswith(
        "population stability index and segment share shift against the training data: not "
        "available, the model file was written before"
    )
    assert drift.max_psi is None and drift.alarms(THRESHOLDS) == ()
    assert sorted(drift.centroid_movement) == [0, 1, 2, 3, 4]


def test_a_run_against_the_same_run_does_not_drift(
    fitted: CustomerSegmenter, document: dict
) -> None:
    run = Segmentation(IDS, X, fitted.predict(X))
    drift = drift_against_previous(run, run, drift_reference_of(document))
    assert set(drift.feature_psi.values()) == {0.0}
    assert (drift.kept_share, drift.n_customers_in_both, drift.notes) == (1.0, 17, ())
    assert all(set(moves.values()) == {0.0} for moves in drift.centroid_movement.values())
    # Without the model's bins, those of the previous run.
    drift = drift_against_previous(run, run, None)
    assert set(drift.feature_psi.values()) == {0.0}
    assert "bins fixed on the previous run" in drift.notes[0]


def test_customers_who_moved_lower_the_kept_share(fitted: CustomerSegmenter) -> None:
    labels = fitted.predict(X)
    moved = labels.copy()
    moved[:6] = (labels[:6] + 1) % 5  # 6 of 17 customers change segment
    previous = Segmentation(IDS, X, labels)
    drift = drift_against_previous(Segmentation(IDS, X, moved), previous, None)
    assert drift.kept_share == pytest.approx(11 / 17, rel=1e-12)
    assert ("kept_share", "customers in both runs") in {
        (alarm.measure, alarm.subject) for alarm in drift.alarms(THRESHOLDS)
    }
    as_dict = drift.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert sum(row["share_shift"] for row in as_dict["segment_share_shift"]) == pytest.approx(0)


# ----------------------------------------------------------------------------- model file


def test_the_model_file_keeps_the_reference_exactly(
    tmp_path: Path, fitted: CustomerSegmenter, document: dict
) -> None:
    path = tmp_path / "model.json"
    write_json_atomic(path, document)
    _, loaded = load_model(path)
    assert loaded == document
    reference = drift_reference_of(loaded)
    assert reference == fit_drift_reference(X, fitted.labels_, fitted.segment_ids_)
    assert loaded[DRIFT_REFERENCE_KEY]["n_customers"] == 17
    assert sum(loaded[DRIFT_REFERENCE_KEY]["features"][0]["reference_shares"]) == pytest.approx(1)
    # The same fit gives the same bytes.
    again = CustomerSegmenter().fit(X)
    copy = model_document(
        again,
        metadata={"k": 5},
        drift_reference=fit_drift_reference(X, again.labels_, again.segment_ids_),
    )
    assert canonical_json(copy).encode() == path.read_bytes()


def test_the_integrity_hash_covers_the_reference(tmp_path: Path, document: dict) -> None:
    path = tmp_path / "model.json"
    write_json_atomic(path, document)
    edited = json.loads(path.read_text(encoding="utf-8"))
    edited[DRIFT_REFERENCE_KEY]["features"][0]["reference_shares"][0] += 0.01
    write_json_atomic(path, edited)
    with pytest.raises(ModelIntegrityError, match="modified after it was written"):
        load_model(path)


def test_a_malformed_reference_is_refused(document: dict) -> None:
    broken = json.loads(json.dumps(document))
    broken[DRIFT_REFERENCE_KEY]["features"][1]["edges"] = [3.0, 2.0]
    with pytest.raises(ModelIntegrityError, match="count_orders are not finite and strictly"):
        drift_reference_of(resealed_model(broken))
    broken = json.loads(json.dumps(document))
    broken[DRIFT_REFERENCE_KEY]["segment_shares"][0]["share"] = 0.5
    with pytest.raises(ModelIntegrityError, match="segment shares sum to"):
        DriftReference.from_dict(broken[DRIFT_REFERENCE_KEY])


def test_a_model_file_without_the_reference_still_loads(
    tmp_path: Path, fitted: CustomerSegmenter
) -> None:
    path = tmp_path / "older.json"
    write_json_atomic(path, model_document(fitted, metadata={"k": 5}))
    segmenter, loaded = load_model(path)
    assert DRIFT_REFERENCE_KEY not in loaded
    assert drift_reference_of(loaded) is None
    assert segmenter.predict(X).tolist() == fitted.labels_.tolist()
    assert render_feature_bins_csv(loaded) == (
        b"feature_name,bin_index,lower_edge,upper_edge,reference_share\n"
    )


# ----------------------------------------------------------------------------- seed


def test_the_bins_render_as_seed_rows() -> None:
    reference = DriftReference(
        n_customers=10,
        feature_bins=(
            FeatureBins("recency_days", (), (1.0,)),
            FeatureBins("count_orders", (1.0, 2.0, 3.0), (0.6, 0.2, 0.1, 0.1)),
            FeatureBins("avg_order_value", (12.5,), (0.7, 0.30000000000000004)),
        ),
        segment_shares={0: 1.0},
    )
    assert render_feature_bins_csv({DRIFT_REFERENCE_KEY: reference.to_dict()}).decode() == (
        "feature_name,bin_index,lower_edge,upper_edge,reference_share\n"
        "recency_days,0,,,1.0\n"
        "count_orders,0,,1.0,0.6\n"
        "count_orders,1,1.0,2.0,0.2\n"
        "count_orders,2,2.0,3.0,0.1\n"
        "count_orders,3,3.0,,0.1\n"
        "avg_order_value,0,,12.5,0.7\n"
        "avg_order_value,1,12.5,,0.30000000000000004\n"
    )
