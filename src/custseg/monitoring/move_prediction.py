"""Predict each customer's state at the next as-of date from its features and segment now.

The data are *pairs*: a customer's features and segment at an as-of date ``t`` and its state at
the next as-of date ``t'`` (its segment then, or
:data:`~custseg.monitoring.transitions.LEFT_STATE` when it has no row at ``t'``). Customers new
at ``t'`` have no features at ``t`` and are not predicted. The model is the multinomial logistic
regression of :mod:`~custseg.monitoring.move_model`; :mod:`~custseg.monitoring.move_evaluation`
checks it out of time.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from custseg.errors import InputDataError, InsufficientDataError
from custseg.monitoring.move_model import MoveModel, validate_move_features
from custseg.monitoring.transitions import LEFT_STATE, Memberships, validate_memberships


@dataclass(frozen=True)
class CustomerHistory:
    """Memberships with each row's features, in original units.

    The features are the columns of :data:`~custseg.monitoring.move_model.MOVE_FEATURES`.
    """

    memberships: Memberships
    #: float64 (n, 3), aligned with the memberships' rows.
    features: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        as_of_date: Sequence,
        customer_id: Sequence,
        segment_id: Sequence,
        features: np.ndarray,
    ) -> CustomerHistory:
        """Validate the rows and sort them by date then customer, features alongside."""
        memberships, order = validate_memberships(as_of_date, customer_id, segment_id)
        values = validate_move_features(features)
        if len(values) != len(order):
            raise InputDataError(
                f"history: {len(order)} membership rows but {len(values)} feature rows; give "
                "one feature row per membership."
            )
        return cls(memberships, values[order])


@dataclass(frozen=True)
class MovePairs:
    """One row per customer present at an as-of date that has a next one."""

    #: The earlier as-of date of the row's pair (``datetime64[D]``).
    from_date: np.ndarray
    #: The later as-of date of the row's pair (``datetime64[D]``).
    to_date: np.ndarray
    customer_id: np.ndarray
    #: Features at the earlier date, float64 (n, 3).
    features: np.ndarray
    #: Segment at the earlier date.
    current_segment: np.ndarray
    #: Segment at the later date, or LEFT_STATE.
    next_state: np.ndarray

    def select(self, mask: np.ndarray) -> MovePairs:
        """The rows where ``mask`` is true."""
        return MovePairs(
            self.from_date[mask],
            self.to_date[mask],
            self.customer_id[mask],
            self.features[mask],
            self.current_segment[mask],
            self.next_state[mask],
        )


def move_pairs(history: CustomerHistory) -> MovePairs:
    """The pairs of every two consecutive as-of dates, in date then customer order."""
    m = history.memberships
    dates = m.dates
    if len(dates) < 2:
        raise InsufficientDataError(
            f"moves need memberships at two as-of dates at least; got {len(dates)}. Backfill "
            "past dates first (custseg backfill)."
        )
    parts = []
    for earlier, later in zip(dates[:-1], dates[1:], strict=True):
        now = m.as_of_date == np.datetime64(earlier, "D")
        customers_later, segments_later = m.at(later)
        position = np.searchsorted(customers_later, m.customer_id[now])
        position = np.minimum(position, max(len(customers_later) - 1, 0))
        found = len(customers_later) > 0
        stays = found & (customers_later[position] == m.customer_id[now])
        parts.append(
            MovePairs(
                m.as_of_date[now],
                np.full(int(now.sum()), np.datetime64(later, "D")),
                m.customer_id[now],
                history.features[now],
                m.segment_id[now],
                np.where(stays, segments_later[position], LEFT_STATE),
            )
        )
    columns = [field.name for field in fields(MovePairs)]
    return MovePairs(
        **{name: np.concatenate([getattr(part, name) for part in parts]) for name in columns}
    )


def fit_move_model(
    pairs: MovePairs, *, regularization: float = 1.0
) -> tuple[MoveModel, LogisticRegression]:
    """Fit the multinomial logistic regression on ``pairs``; return it as a model and as the
    scikit-learn estimator (L2 penalty, inverse strength ``C = regularization``; lbfgs, which
    is deterministic).

    Raises
    ------
    InsufficientDataError
        When every pair ends in the same state: there is no move to learn.
    """
    states = np.unique(pairs.next_state)
    if len(states) < 2:
        raise InsufficientDataError(
            f"all {len(pairs.next_state)} training customers ended in state "
            f"{states.tolist()}; the move model needs at least two next states."
        )
    logged = np.log1p(pairs.features)
    mean = logged.mean(axis=0)
    scale = logged.std(axis=0)
    scale[scale == 0] = 1.0
    segments = tuple(int(s) for s in np.unique(pairs.current_segment))
    skeleton = MoveModel((), segments, mean, scale, np.empty((0, 0)), np.empty(0))
    estimator = LogisticRegression(C=regularization, max_iter=5000, tol=1e-8, random_state=0)
    with warnings.catch_warnings():
        # A model that stops at max_iter still predicts; the evaluation says how well.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(
            skeleton.design_matrix(pairs.features, pairs.current_segment), pairs.next_state
        )
    return MoveModel.from_estimator(estimator, segments, mean, scale), estimator


@dataclass(frozen=True)
class MoveForecast:
    """Each customer's probabilities of every next state after :attr:`as_of_date`."""

    #: The as-of date the customers' features and segments are taken from.
    as_of_date: dt.date
    customer_id: np.ndarray
    current_segment: np.ndarray
    #: Next states, the columns of :attr:`probabilities`.
    classes: tuple[int, ...]
    probabilities: np.ndarray
    target_segment_id: int
    #: Per customer, the terms pushing it towards the target (:meth:`MoveModel.drivers`).
    drivers: list[tuple[tuple[str, float], ...]]

    @property
    def target_probability(self) -> np.ndarray:
        """Each customer's probability of being in the target segment next."""
        if self.target_segment_id not in self.classes:
            return np.zeros(len(self.customer_id))
        return self.probabilities[:, self.classes.index(self.target_segment_id)]

    def most_likely_to_move(self, share: float = 0.1) -> np.ndarray:
        """Row indices of the ``ceil(share * m)`` customers not in the target now with the
        highest target probability, highest first (ties in customer order)."""
        rows = np.flatnonzero(self.current_segment != self.target_segment_id)
        ranked = rows[np.argsort(-self.target_probability[rows], kind="stable")]
        return ranked[: top_count(share, len(rows))]


def top_count(share: float, candidates: int) -> int:
    """``ceil(share * candidates)``, at least one candidate when there is one (rounded first,
    so that ``0.1 * 30`` gives 3, not the 4 of its binary ``3.0000000000000004``)."""
    if not 0 < share <= 1:
        raise ValueError(f"the top share is a fraction in (0, 1]; got {share!r}")
    return min(candidates, max(1, math.ceil(round(share * candidates, 9))))


def forecast_moves(
    model: MoveModel, history: CustomerHistory, target_segment_id: int, *, n_drivers: int = 3
) -> MoveForecast:
    """Score every customer at the last as-of date of ``history`` with ``model``."""
    m = history.memberships
    last = m.dates[-1]
    now = m.as_of_date == np.datetime64(last, "D")
    features, segments = history.features[now], m.segment_id[now]
    drivers = (
        model.drivers(features, segments, target_segment_id, top=n_drivers)
        if target_segment_id in model.classes
        else [() for _ in segments]
    )
    return MoveForecast(
        as_of_date=last,
        customer_id=m.customer_id[now],
        current_segment=segments,
        classes=model.classes,
        probabilities=model.predict_proba(features, segments),
        target_segment_id=target_segment_id,
        drivers=drivers,
    )
