"""Transition counts, probabilities and the projected mix on a three-date history by hand.

The history (segment ids; "-" = no row at that date):

    customer  2020-01-01  2020-02-01  2020-03-01
    a         0           0           1
    b         0           1           1
    c         1           1           4
    d         1           -           -        (leaves after January)
    e         4           4           4
    f         -           0           0        (new in February)
    g         -           -           4        (new in March)
    h         -           -           0        (new in March)
"""

import datetime as dt

import numpy as np
import pytest

from custseg.errors import InputDataError, InsufficientDataError
from custseg.monitoring.transitions import (
    LEFT_STATE,
    NEW_STATE,
    STATE_NAMES,
    Memberships,
    TransitionMatrix,
    pool_transitions,
    project_from_memberships,
    project_segment_mix,
    segment_counts,
    transitions_by_pair,
)

JAN, FEB, MAR = dt.date(2020, 1, 1), dt.date(2020, 2, 1), dt.date(2020, 3, 1)
ROWS = [
    # Given out of order, on purpose: the library sorts.
    ("2020-03-01", "h", 0),
    ("2020-01-01", "a", 0),
    ("2020-02-01", "f", 0),
    ("2020-01-01", "b", 0),
    ("2020-01-01", "c", 1),
    ("2020-01-01", "d", 1),
    ("2020-01-01", "e", 4),
    ("2020-02-01", "a", 0),
    ("2020-02-01", "b", 1),
    ("2020-02-01", "c", 1),
    ("2020-02-01", "e", 4),
    ("2020-03-01", "a", 1),
    ("2020-03-01", "b", 1),
    ("2020-03-01", "c", 4),
    ("2020-03-01", "e", 4),
    ("2020-03-01", "f", 0),
    ("2020-03-01", "g", 4),
]


@pytest.fixture(scope="module")
def memberships() -> Memberships:
    dates, customers, segments = zip(*ROWS, strict=True)
    return Memberships.from_arrays(dates, customers, segments)


@pytest.fixture(scope="module")
def pairs(memberships) -> list[TransitionMatrix]:
    return transitions_by_pair(memberships)


def test_memberships_are_sorted_by_date_then_customer(memberships):
    assert memberships.dates == (JAN, FEB, MAR)
    customers, segments = memberships.at(MAR)
    assert customers.tolist() == ["a", "b", "c", "e", "f", "g", "h"]
    assert segments.tolist() == [1, 1, 4, 4, 0, 4, 0]


def test_january_to_february_has_a_new_and_a_left_customer(pairs):
    first = pairs[0]
    assert (first.from_date, first.to_date, first.pairs) == (JAN, FEB, 1)
    assert first.from_states == (NEW_STATE, 0, 1, 4)
    assert first.to_states == (0, 1, 4, LEFT_STATE)
    assert first.counts.tolist() == [
        [1, 0, 0, 0],  # f arrives in 0
        [1, 1, 0, 0],  # a stays in 0, b moves to 1
        [0, 1, 0, 1],  # c stays in 1, d leaves
        [0, 0, 1, 0],  # e stays in 4
    ]
    assert first.row(1) == {0: 0.0, 1: 0.5, 4: 0.0, LEFT_STATE: 0.5}
    assert first.probability(NEW_STATE, 0) == 1.0
    assert first.new_customers == 1


def test_the_left_state_appears_only_where_someone_left(pairs):
    second = pairs[1]
    assert second.from_states == (NEW_STATE, 0, 1, 4)
    assert second.to_states == (0, 1, 4)
    assert second.counts.tolist() == [[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert second.probability(0, LEFT_STATE) == 0.0
    assert second.new_customers == 2


def test_every_row_of_probabilities_sums_to_one(pairs):
    for matrix in [*pairs, pool_transitions(pairs)]:
        np.testing.assert_allclose(matrix.probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-15)


def test_pooled_counts_add_the_pairs_on_the_union_of_states(pairs):
    pooled = pool_transitions(pairs)
    assert (pooled.from_date, pooled.to_date, pooled.pairs) == (JAN, MAR, 2)
    assert pooled.to_states == (0, 1, 4, LEFT_STATE)
    assert pooled.counts.tolist() == [[2, 0, 1, 0], [2, 2, 0, 0], [0, 2, 1, 1], [0, 0, 2, 0]]
    assert pooled.probabilities.tolist() == [
        [2 / 3, 0.0, 1 / 3, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.5, 0.25, 0.25],
        [0.0, 0.0, 1.0, 0.0],
    ]
    assert pooled.mean_new_customers == 1.5
    assert pooled.cells() == [
        (NEW_STATE, 0, 2, 2 / 3),
        (NEW_STATE, 4, 1, 1 / 3),
        (0, 0, 2, 0.5),
        (0, 1, 2, 0.5),
        (1, 1, 2, 0.5),
        (1, 4, 1, 0.25),
        (1, LEFT_STATE, 1, 0.25),
        (4, 4, 2, 1.0),
    ]


def test_a_window_pools_only_the_last_pairs(pairs):
    last = pool_transitions(pairs, window=1)
    assert (last.from_date, last.to_date, last.pairs) == (FEB, MAR, 1)
    assert last.counts.tolist() == pairs[1].counts.tolist()
    assert last.mean_new_customers == 2.0
    with pytest.raises(ValueError, match="positive number of pairs"):
        pool_transitions(pairs, window=0)


def test_projected_mix_by_hand(memberships):
    # March counts: 0 -> {f, h} = 2, 1 -> {a, b} = 2, 4 -> {c, e, g} = 3; nbar_new = 3 / 2.
    # m[0] = 2 * 0.5 + 1.5 * 2/3 = 2;  m[1] = 2 * 0.5 + 2 * 0.5 = 2;
    # m[4] = 2 * 0.25 + 3 * 1 + 1.5 * 1/3 = 4;  left = 2 * 0.25 = 0.5.
    assert segment_counts(memberships) == {0: 2, 1: 2, 4: 3}
    mix = project_from_memberships(memberships)
    assert mix.as_of_date == MAR
    assert mix.segment_counts == pytest.approx({0: 2.0, 1: 2.0, 4: 4.0}, abs=1e-12)
    assert mix.left == pytest.approx(0.5, abs=1e-12)
    assert mix.new_customers == 1.5
    assert mix.shares == pytest.approx({0: 0.25, 1: 0.25, 4: 0.5}, abs=1e-12)
    # Customers are conserved: 7 now + 1.5 new = 8 in segments + 0.5 gone.
    assert sum(mix.segment_counts.values()) + mix.left == pytest.approx(8.5, abs=1e-12)
    assert mix.unobserved_segments == ()


def test_a_segment_without_history_keeps_its_customers(pairs):
    pooled = pool_transitions(pairs)
    mix = project_segment_mix({0: 2, 7: 5}, pooled, MAR)
    # 0: 2 * 0.5 + 1.5 * 2/3 = 2; 1: 2 * 0.5 = 1; 4: 1.5 * 1/3 = 0.5; 7 stays at 5.
    assert mix.segment_counts == pytest.approx({0: 2.0, 1: 1.0, 4: 0.5, 7: 5.0}, abs=1e-12)
    assert mix.unobserved_segments == (7,)
    assert mix.left == 0.0


def test_state_names():
    assert STATE_NAMES == {NEW_STATE: "Not yet a customer", LEFT_STATE: "Left"}


def test_a_customer_with_two_rows_at_one_date_is_named():
    with pytest.raises(InputDataError, match=r"rows 1 and 3 both give customer 'a'.*2020-01-01"):
        Memberships.from_arrays(
            ["2020-01-01", "2020-01-01", "2020-01-01", "2020-01-01"], ["b", "a", "c", "a"], [0] * 4
        )


@pytest.mark.parametrize(
    ("segments", "message"),
    [([0, -1], r"row 1 has segment_id -1.*reserved"), ([0, 1.5], r"row 1 has segment_id 1\.5")],
)
def test_a_bad_segment_id_is_named(segments, message):
    with pytest.raises(InputDataError, match=message):
        Memberships.from_arrays(["2020-01-01", "2020-02-01"], ["a", "a"], segments)


def test_bad_dates_and_lengths_are_named():
    with pytest.raises(InputDataError, match="not a date"):
        Memberships.from_arrays(["2020-01-01", "January"], ["a", "b"], [0, 0])
    with pytest.raises(InputDataError, match="got 2, 1 and 2 values"):
        Memberships.from_arrays(["2020-01-01", "2020-02-01"], ["a"], [0, 0])


def test_one_date_is_not_enough_for_transitions():
    one = Memberships.from_arrays(["2020-01-01"] * 2, [1, 2], [0, 1])
    with pytest.raises(InsufficientDataError, match="two as-of dates at least; got 1"):
        transitions_by_pair(one)
