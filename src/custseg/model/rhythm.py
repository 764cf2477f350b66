"""The data's own purchase rhythm: the usual gap, in days, between a customer's purchases.

Absolute name rules are stated in this rhythm ("silent for longer than the usual gap"), so that
they mean the same on a shop whose customers buy weekly and on one whose customers buy twice a
year. A purchase here is a *purchase day*: several orders on one day (common in order logs that
split a basket into transactions) are one visit, so they do not shrink the gap to zero.

For every customer who bought on at least two different days, the mean gap is the days from
the first to the last purchase divided by the number of gaps (purchase days minus one). The
data's *usual gap* is the median of these means: a typical repeat buyer's rhythm, robust to a
few very regular or very rare customers.

A customer's *silence* is the days since the last purchase counted in the customer's own usual
gap: their mean gap when they bought on two or more days, else (one visit only: no rhythm of
their own) the data's usual gap. A loyal customer buying every 20 days and silent for 30 is at
1.5 gaps; a customer of a shop with a 60-day rhythm who bought once, 400 days ago, is at 6.7.
Name rules compare the segment's median silence with a fixed number of gaps. A shop where
nobody bought on two different days has no rhythm (None), and the rules that need it say so in
their numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custseg.errors import InputDataError

#: The columns of ``customer_features`` the rhythm is measured from, in this order.
RHYTHM_COLUMNS: tuple[str, ...] = ("lifetime_days", "count_purchase_days")


def usual_gap_days(lifetime_days: np.ndarray, purchase_days: np.ndarray) -> float | None:
    """The median, over customers with purchases on two or more days, of their mean gap.

    Parameters
    ----------
    lifetime_days : array of shape (n,)
        Days from each customer's first to last purchase, both counted (``customer_features``
        ``lifetime_days``: 1 for a single purchase day).
    purchase_days : array of shape (n,)
        Distinct days on which each customer bought (``customer_features``
        ``count_purchase_days``).

    Returns
    -------
    float or None
        The usual gap in days (at least 1), or None when no customer bought on two different
        days.

    Raises
    ------
    InputDataError
        If the arrays differ in length, or a customer's purchase days are below 1 or exceed the
        days of their lifetime (the feature table is inconsistent).
    """
    lifetime = np.asarray(lifetime_days, dtype=np.float64)
    days = np.asarray(purchase_days, dtype=np.float64)
    if lifetime.shape != days.shape or lifetime.ndim != 1:
        raise InputDataError(
            f"lifetime_days and count_purchase_days must be two columns of one length; got "
            f"shapes {lifetime.shape} and {days.shape}."
        )
    inconsistent = ~np.isfinite(lifetime) | ~np.isfinite(days) | (days < 1) | (days > lifetime)
    if inconsistent.any():
        raise InputDataError(
            f"customer_features has {int(inconsistent.sum())} row(s) whose count_purchase_days "
            "is not between 1 and lifetime_days; rebuild the features with `custseg run` (the "
            "dbt model's tests guard this)."
        )
    repeat = days >= 2
    if not repeat.any():
        return None
    return float(np.median((lifetime[repeat] - 1.0) / (days[repeat] - 1.0)))


@dataclass(frozen=True)
class Rhythm:
    """The data's purchase rhythm: its usual gap and every customer's silence in usual gaps."""

    # Days: the median over customers with two or more purchase days of their mean gap.
    usual_gap_days: float
    # Per customer (the feature matrix's row order): days since the last purchase divided by the
    # customer's own mean gap, or by the usual gap for a customer with one purchase day.
    silence: np.ndarray

    def rows(self, rows: np.ndarray | None) -> Rhythm:
        """The same rhythm for a subset of the customers (None: all of them)."""
        return self if rows is None else Rhythm(self.usual_gap_days, self.silence[rows])


def silence_in_gaps(
    recency_days: np.ndarray, lifetime_days: np.ndarray, purchase_days: np.ndarray
) -> Rhythm | None:
    """The data's usual gap and each customer's silence in usual gaps (module docstring).

    Parameters
    ----------
    recency_days : array of shape (n,)
        Days since each customer's last purchase (``customer_features.recency_days``).
    lifetime_days, purchase_days : arrays of shape (n,)
        As for :func:`usual_gap_days`.

    Returns
    -------
    Rhythm or None
        None when no customer bought on two different days.
    """
    gap = usual_gap_days(lifetime_days, purchase_days)
    if gap is None:
        return None
    lifetime = np.asarray(lifetime_days, dtype=np.float64)
    days = np.asarray(purchase_days, dtype=np.float64)
    own = np.where(days >= 2, (lifetime - 1.0) / np.maximum(days - 1.0, 1.0), gap)
    return Rhythm(gap, np.asarray(recency_days, dtype=np.float64) / own)
