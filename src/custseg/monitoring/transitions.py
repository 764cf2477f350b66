"""Transition counts and probabilities between segments, and the projected segment mix.

Read from the segment memberships (one row per as-of date and customer: the date, the customer
id and its segment id). For two consecutive as-of dates ``t0 < t1`` every customer present at
either date falls in one cell:

- its **from-state** is its segment at ``t0``, or :data:`NEW_STATE` (-1, "Not yet a customer")
  when it has no row at ``t0`` (a customer absent at ``t0`` and back at ``t1`` counts here too);
- its **to-state** is its segment at ``t1``, or :data:`LEFT_STATE` (-2, "Left") when it has no
  row at ``t1``.

The two special states appear only when they occur. Rows list the new state first, then the
segments ascending; columns list the segments ascending, then the left state.

Formulas, with ``n_w[i, j]`` the customers in from-state ``i`` and to-state ``j`` over pair ``w``:

- probability of a pair: ``p_w[i, j] = n_w[i, j] / sum_j' n_w[i, j']``, so each row sums to one;
- pooled over a window of ``W`` pairs (states aligned on their union):
  ``n[i, j] = sum_w n_w[i, j]`` and ``p[i, j] = n[i, j] / sum_j' n[i, j']``; this weights each
  pair by its customers (the maximum-likelihood estimate of one time-homogeneous Markov chain);
- projected count of to-state ``j`` for the period after the last date ``T``:
  ``m_{T+1}[j] = sum_s m_T[s] p[s, j] + nbar_new p[NEW, j]``, where ``m_T[s]`` is the number of
  customers in segment ``s`` at ``T`` and ``nbar_new = (1 / W) sum_w sum_j n_w[NEW, j]`` the
  mean number of new customers per period of the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from custseg.errors import InputDataError, InsufficientDataError

#: From-state of a customer with no membership at the earlier date of a pair.
NEW_STATE = -1
#: To-state of a customer with a membership at the earlier date but none at the later one.
LEFT_STATE = -2
#: Names of the two states that are not segments.
STATE_NAMES: dict[int, str] = {NEW_STATE: "Not yet a customer", LEFT_STATE: "Left"}
# Marks "no row at this date" inside the pair arithmetic; never leaves this module.
_ABSENT = -3


@dataclass(frozen=True)
class Memberships:
    """Segment memberships, one row per as-of date and customer, sorted by date then customer.

    Build it with :meth:`from_arrays`, which validates the rows.
    """

    #: As-of date of each row (``datetime64[D]``).
    as_of_date: np.ndarray
    #: Customer id of each row (any sortable type: int or str).
    customer_id: np.ndarray
    #: Segment id of each row (non-negative int64).
    segment_id: np.ndarray

    @classmethod
    def from_arrays(
        cls, as_of_date: Sequence | np.ndarray, customer_id: Sequence, segment_id: Sequence
    ) -> Memberships:
        """Validate and sort membership rows (:func:`validate_memberships`)."""
        return validate_memberships(as_of_date, customer_id, segment_id)[0]

    @property
    def dates(self) -> tuple[dt.date, ...]:
        """The distinct as-of dates, ascending."""
        return tuple(d.item() for d in np.unique(self.as_of_date))

    def at(self, as_of_date: dt.date | str) -> tuple[np.ndarray, np.ndarray]:
        """Customer ids and segment ids as of one date (customer ids ascending)."""
        mask = self.as_of_date == np.datetime64(as_of_date, "D")
        return self.customer_id[mask], self.segment_id[mask]


def validate_memberships(
    as_of_date: Sequence | np.ndarray, customer_id: Sequence, segment_id: Sequence
) -> tuple[Memberships, np.ndarray]:
    """Validate membership rows; return them sorted by date then customer, and the order.

    The order (``sorted = given[order]``) lets a caller sort columns of its own (the features of
    each row) the same way.

    Raises
    ------
    InputDataError
        When the arrays differ in length, a date does not parse, a segment id is not a
        non-negative integer, or a customer has two rows at one date (the message names the
        rows, numbered from 0 in the order given).
    """
    lengths = {len(as_of_date), len(customer_id), len(segment_id)}
    if len(lengths) != 1:
        raise InputDataError(
            f"memberships: as_of_date, customer_id and segment_id must have one value per "
            f"row; got {len(as_of_date)}, {len(customer_id)} and {len(segment_id)} values."
        )
    try:
        dates = np.asarray(as_of_date, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"memberships: column as_of_date holds a value that is not a date ({exc}); "
            "give dates as YYYY-MM-DD."
        ) from exc
    if np.isnat(dates).any():
        row = int(np.flatnonzero(np.isnat(dates))[0])
        raise InputDataError(f"memberships: row {row} has no as_of_date; give every date.")
    segments = _segment_ids(segment_id)
    customers = np.asarray(customer_id)
    _, codes = np.unique(customers, return_inverse=True)
    order = np.lexsort((codes, dates))
    same = (dates[order][1:] == dates[order][:-1]) & (codes[order][1:] == codes[order][:-1])
    if same.any():
        at = int(np.argmax(same))
        first, second = sorted(int(r) for r in order[[at, at + 1]])
        raise InputDataError(
            f"memberships: rows {first} and {second} both give customer "
            f"{_plain(customers[first])!r} a segment as of {dates[first]}; keep one row per as-of "
            "date and customer."
        )
    return Memberships(dates[order], customers[order], segments[order]), order


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _segment_ids(segment_id: Sequence) -> np.ndarray:
    try:
        values = np.asarray(segment_id, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"memberships: column segment_id holds a value that is not a number ({exc})."
        ) from exc
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"memberships: row {row} has segment_id {_plain(segment_id[row])!r}; segment ids are "
            f"non-negative integers ({NEW_STATE} and {LEFT_STATE} are reserved for the "
            "new and left states)."
        )
    return values.astype(np.int64)


@dataclass(frozen=True)
class TransitionMatrix:
    """Customers moving between states over one pair of as-of dates, or pooled over several.

    ``counts[i, j]`` is the number of customers in ``from_states[i]`` at the earlier date and in
    ``to_states[j]`` at the later one; :attr:`probabilities` divides each row by its total.
    """

    #: Earlier as-of date (of the first pair, when pooled).
    from_date: dt.date
    #: Later as-of date (of the last pair, when pooled).
    to_date: dt.date
    #: Number of consecutive pairs of dates summed into the counts (1 for a single pair).
    pairs: int
    #: Row states: NEW_STATE first if it occurs, then segment ids ascending.
    from_states: tuple[int, ...]
    #: Column states: segment ids ascending, then LEFT_STATE if it occurs.
    to_states: tuple[int, ...]
    #: Customers per (from-state, to-state), int64, shape (len(from_states), len(to_states)).
    counts: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        """``p[i, j] = counts[i, j] / counts[i, :].sum()``; every row sums to one."""
        return self.counts / self.counts.sum(axis=1, keepdims=True)

    def probability(self, from_state: int, to_state: int) -> float:
        """The probability of moving from ``from_state`` to ``to_state`` (0 for an absent
        to-state); raises KeyError for a from-state with no customers."""
        if from_state not in self.from_states:
            raise KeyError(f"no customers in from-state {from_state}")
        if to_state not in self.to_states:
            return 0.0
        i, j = self.from_states.index(from_state), self.to_states.index(to_state)
        return float(self.probabilities[i, j])

    def row(self, from_state: int) -> dict[int, float]:
        """The probabilities of every to-state for customers in ``from_state``."""
        return {to: self.probability(from_state, to) for to in self.to_states}

    @property
    def new_customers(self) -> int:
        """Customers who came from :data:`NEW_STATE` (summed over the pooled pairs)."""
        if NEW_STATE not in self.from_states:
            return 0
        return int(self.counts[self.from_states.index(NEW_STATE)].sum())

    @property
    def mean_new_customers(self) -> float:
        """``nbar_new``: new customers per pair of dates."""
        return self.new_customers / self.pairs

    def cells(self) -> list[tuple[int, int, int, float]]:
        """The non-empty cells as ``(from_state, to_state, customers, probability)`` rows,
        row by row: the shape of a ``fct_segment_transitions`` table."""
        probabilities = self.probabilities
        return [
            (f, t, int(self.counts[i, j]), float(probabilities[i, j]))
            for i, f in enumerate(self.from_states)
            for j, t in enumerate(self.to_states)
            if self.counts[i, j] > 0
        ]


def _column_key(states: np.ndarray) -> np.ndarray:
    """Sort key of to-states: segment ids ascending, the left state after them."""
    return np.where(states == LEFT_STATE, np.iinfo(np.int64).max, states)


def count_transitions(
    from_state: np.ndarray,
    to_state: np.ndarray,
    *,
    from_date: dt.date,
    to_date: dt.date,
    pairs: int = 1,
    weights: np.ndarray | None = None,
) -> TransitionMatrix:
    """The matrix of the (from-state, to-state) pairs given, each with its weight (default one
    customer); rows and columns are the states that occur, in the documented order."""
    if weights is None:
        weights = np.ones(len(from_state), dtype=np.int64)
    from_state = np.asarray(from_state, dtype=np.int64)
    to_state = np.asarray(to_state, dtype=np.int64)
    rows = np.unique(from_state)
    cols = np.unique(_column_key(to_state))
    counts = np.zeros((len(rows), len(cols)), dtype=np.int64)
    row_index = np.searchsorted(rows, from_state)
    col_index = np.searchsorted(cols, _column_key(to_state))
    np.add.at(counts, (row_index, col_index), weights)
    to_states = tuple(LEFT_STATE if c == np.iinfo(np.int64).max else int(c) for c in cols)
    return TransitionMatrix(
        from_date, to_date, pairs, tuple(int(r) for r in rows), to_states, counts
    )


def transitions_by_pair(memberships: Memberships) -> list[TransitionMatrix]:
    """One transition matrix per pair of consecutive as-of dates, in date order.

    Raises
    ------
    InsufficientDataError
        When the memberships hold fewer than two as-of dates.
    """
    dates = memberships.dates
    if len(dates) < 2:
        raise InsufficientDataError(
            f"transitions need memberships at two as-of dates at least; got {len(dates)}. "
            "Backfill past dates first (custseg backfill)."
        )
    _, codes = np.unique(memberships.customer_id, return_inverse=True)
    n_customers = int(codes.max()) + 1
    matrices = []
    previous = _states_at(memberships, codes, n_customers, dates[0])
    for earlier, later in zip(dates[:-1], dates[1:], strict=True):
        current = _states_at(memberships, codes, n_customers, later)
        present = (previous != _ABSENT) | (current != _ABSENT)
        from_state = np.where(previous == _ABSENT, NEW_STATE, previous)[present]
        to_state = np.where(current == _ABSENT, LEFT_STATE, current)[present]
        matrices.append(count_transitions(from_state, to_state, from_date=earlier, to_date=later))
        previous = current
    return matrices


def _states_at(
    memberships: Memberships, codes: np.ndarray, n_customers: int, as_of_date: dt.date
) -> np.ndarray:
    """Each customer's segment at ``as_of_date`` (indexed by customer code), _ABSENT if none."""
    states = np.full(n_customers, _ABSENT, dtype=np.int64)
    mask = memberships.as_of_date == np.datetime64(as_of_date, "D")
    states[codes[mask]] = memberships.segment_id[mask]
    return states


def pool_transitions(
    matrices: Sequence[TransitionMatrix], window: int | None = None
) -> TransitionMatrix:
    """Sum the counts of the last ``window`` pairs (all of them by default) into one matrix.

    Raises
    ------
    ValueError
        When there is no matrix or ``window`` is not a positive integer.
    """
    if window is not None and (isinstance(window, bool) or window < 1):
        raise ValueError(f"window must be a positive number of pairs of dates; got {window!r}")
    chosen = list(matrices)[-window:] if window is not None else list(matrices)
    if not chosen:
        raise ValueError("pool_transitions needs at least one transition matrix")
    from_parts, to_parts, weight_parts = [], [], []
    for matrix in chosen:
        i, j = np.nonzero(matrix.counts)
        from_parts.append(np.array(matrix.from_states, dtype=np.int64)[i])
        to_parts.append(np.array(matrix.to_states, dtype=np.int64)[j])
        weight_parts.append(matrix.counts[i, j])
    return count_transitions(
        np.concatenate(from_parts),
        np.concatenate(to_parts),
        from_date=chosen[0].from_date,
        to_date=chosen[-1].to_date,
        pairs=len(chosen),
        weights=np.concatenate(weight_parts),
    )


@dataclass(frozen=True)
class ProjectedMix:
    """The expected number of customers per segment one period after :attr:`as_of_date`."""

    #: The last observed as-of date, whose segment counts the projection starts from.
    as_of_date: dt.date
    #: Expected customers per segment id, ``m_{T+1}[j]`` (ascending ids).
    segment_counts: dict[int, float]
    #: Expected customers who leave (0 when the window saw nobody leave).
    left: float
    #: Mean new customers per period the projection adds, ``nbar_new``.
    new_customers: float
    #: Segments at the last date with no customers in the window's rows: kept where they are.
    unobserved_segments: tuple[int, ...]

    @property
    def shares(self) -> dict[int, float]:
        """Each segment's share of the projected customers (the left ones excluded)."""
        total = sum(self.segment_counts.values())
        return {s: (c / total if total else 0.0) for s, c in self.segment_counts.items()}


def project_segment_mix(
    last_counts: Mapping[int, int], pooled: TransitionMatrix, as_of_date: dt.date
) -> ProjectedMix:
    """Project the next period's segment mix from the last counts and the pooled matrix.

    ``m_{T+1}[j] = sum_s m_T[s] p[s, j] + nbar_new p[NEW, j]`` (module docstring). A segment of
    ``last_counts`` with no row in ``pooled`` (it never held a customer at an earlier date of
    the window, e.g. after a retrain added it) has no evidence to move: it keeps its customers,
    and it is listed in :attr:`ProjectedMix.unobserved_segments`.

    Parameters
    ----------
    last_counts
        Customers per segment id at the last as-of date (:func:`segment_counts`).
    pooled
        The pooled matrix (:func:`pool_transitions`).
    as_of_date
        The last as-of date, recorded in the result.
    """
    probabilities = pooled.probabilities
    projected = np.zeros(len(pooled.to_states))
    unobserved = []
    stay: dict[int, float] = {}
    for segment, count in sorted(last_counts.items()):
        if segment < 0:
            raise ValueError(f"last_counts holds state {segment}; give segment ids only")
        if segment in pooled.from_states:
            projected += count * probabilities[pooled.from_states.index(segment)]
        else:
            unobserved.append(segment)
            stay[segment] = float(count)
    new = pooled.mean_new_customers
    if new:
        projected += new * probabilities[pooled.from_states.index(NEW_STATE)]
    counts = {s: float(c) for s, c in zip(pooled.to_states, projected, strict=True)}
    left = counts.pop(LEFT_STATE, 0.0)
    for segment, count in stay.items():
        counts[segment] = counts.get(segment, 0.0) + count
    return ProjectedMix(
        as_of_date, dict(sorted(counts.items())), left, float(new), tuple(unobserved)
    )


def segment_counts(memberships: Memberships, as_of_date: dt.date | None = None) -> dict[int, int]:
    """Customers per segment id at ``as_of_date`` (the last date by default)."""
    date = as_of_date if as_of_date is not None else memberships.dates[-1]
    _, segments = memberships.at(date)
    ids, counts = np.unique(segments, return_counts=True)
    return {int(s): int(c) for s, c in zip(ids, counts, strict=True)}


def project_from_memberships(memberships: Memberships, window: int | None = None) -> ProjectedMix:
    """The projected mix after the last as-of date, pooling the last ``window`` pairs."""
    pooled = pool_transitions(transitions_by_pair(memberships), window)
    last = memberships.dates[-1]
    return project_segment_mix(segment_counts(memberships, last), pooled, last)
