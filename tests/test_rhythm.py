"""The data's purchase rhythm: the usual gap between purchases, on hand-computed customers."""

from __future__ import annotations

import numpy as np
import pytest

from custseg.errors import InputDataError
from custseg.model.rhythm import silence_in_gaps, usual_gap_days


def test_the_usual_gap_is_the_median_of_repeat_buyers_mean_gaps() -> None:
    # (lifetime days, purchase days): gaps (31-1)/(2-1) = 30, (91-1)/(4-1) = 30 ... by hand:
    lifetime = np.array([31, 91, 201, 1, 1, 5])
    purchase_days = np.array([2, 4, 3, 1, 1, 5])
    # Mean gaps of the repeat buyers: 30, 30, 100, 1 -> median (30 + 30) / 2 = 30. One-day
    # customers (lifetime 1) have no gap and do not count.
    assert usual_gap_days(lifetime, purchase_days) == 30.0


def test_several_orders_on_one_day_are_one_purchase() -> None:
    # Three customers whose orders all fell on one day each: no rhythm to measure.
    assert usual_gap_days(np.array([1, 1, 1]), np.array([1, 1, 1])) is None


def test_inconsistent_features_are_refused_with_the_column() -> None:
    with pytest.raises(InputDataError, match="count_purchase_days is not between 1 and"):
        usual_gap_days(np.array([3, 2]), np.array([2, 3]))
    with pytest.raises(InputDataError, match="one length"):
        usual_gap_days(np.array([3, 2]), np.array([2]))


def test_silence_is_counted_in_the_customer_s_own_gap_or_the_usual_one() -> None:
    recency = np.array([45, 60, 120, 15])
    lifetime = np.array([31, 91, 1, 1])
    purchase_days = np.array([2, 4, 1, 1])
    rhythm = silence_in_gaps(recency, lifetime, purchase_days)
    assert rhythm is not None
    # Own gaps 30 and 30 -> usual gap 30. Silence: 45/30, 60/30; one-day customers use 30.
    assert rhythm.usual_gap_days == 30.0
    assert rhythm.silence.tolist() == [1.5, 2.0, 4.0, 0.5]
    assert rhythm.rows(np.array([2, 0])).silence.tolist() == [4.0, 1.5]
    assert silence_in_gaps(recency, np.ones(4), np.ones(4)) is None
