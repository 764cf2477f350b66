"""The move model out of time against the transition-matrix baseline, then the forecast.

:func:`study_moves` does the whole job:

1. trains the move model on the pairs of every pair of as-of dates but the last and scores it on
   the last pair against the **baseline**: the pooled transition matrix of the same training
   pairs, read at the customer's current segment (a segment with no training row gets the
   training pairs' overall distribution of next states);
2. refits on all pairs and forecasts the state after the last as-of date, with the drivers of a
   move into the target segment.

Measures on the ``n`` test customers, ``q_i`` a predicted distribution over the evaluation states
(model classes, baseline columns and the actual states of the test pair) and ``y_i`` the actual:

- **floor**: a probability under :data:`PROBABILITY_FLOOR` (a state the model or the baseline
  never saw in training) is raised to it and ``q_i`` renormalized, for both alike, so that one
  unseen state costs about ``-ln(1e-4) = 9.2`` nats instead of infinity;
- **log loss** ``= -(1/n) sum_i ln q_i[y_i]`` (nats; lower is better);
- **Brier score** ``= (1/n) sum_i sum_k (q_i[k] - [y_i = k])^2`` (0 to 2; lower is better);
- **precision at the top share** for a target segment: among the ``m`` test customers not in the
  target now, the ``ceil(share * m)`` with the highest probability of being in it next (ties in
  customer order), the share who are; next to the **base rate**, the share of all ``m`` who are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from custseg.catalogue import AT_RISK
from custseg.errors import InsufficientDataError
from custseg.monitoring.move_model import MoveModel
from custseg.monitoring.move_prediction import (
    CustomerHistory,
    MoveForecast,
    MovePairs,
    fit_move_model,
    forecast_moves,
    move_pairs,
    top_count,
)
from custseg.monitoring.transitions import TransitionMatrix, count_transitions

#: Smallest probability a prediction may give a state when it is scored (module docstring).
PROBABILITY_FLOOR = 1e-4


def baseline_proba(
    matrix: TransitionMatrix, current_segment: np.ndarray, states: Sequence[int]
) -> np.ndarray:
    """The matrix row of each customer's current segment over ``states`` (0 for a column the
    matrix lacks); a segment without a row gets the matrix's overall distribution."""
    column = [matrix.to_states.index(s) if s in matrix.to_states else None for s in states]

    def spread(counts: np.ndarray) -> np.ndarray:
        values = np.array([counts[j] if j is not None else 0.0 for j in column], dtype=float)
        return values / counts.sum()

    fallback = spread(matrix.counts.sum(axis=0))
    rows = {s: spread(matrix.counts[i]) for i, s in enumerate(matrix.from_states)}
    return np.array([rows.get(int(s), fallback) for s in current_segment])


def floored(probabilities: np.ndarray) -> np.ndarray:
    """Raise every probability to at least :data:`PROBABILITY_FLOOR`, then renormalize rows."""
    raised = np.maximum(probabilities, PROBABILITY_FLOOR)
    return raised / raised.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, actual: np.ndarray) -> float:
    """``-(1/n) sum_i ln q_i[y_i]``; ``actual`` holds column indices."""
    return float(-np.mean(np.log(probabilities[np.arange(len(actual)), actual])))


def brier_score(probabilities: np.ndarray, actual: np.ndarray) -> float:
    """``(1/n) sum_i sum_k (q_i[k] - [y_i = k])^2``; ``actual`` holds column indices."""
    truth = np.zeros_like(probabilities)
    truth[np.arange(len(actual)), actual] = 1.0
    return float(np.mean(np.sum((probabilities - truth) ** 2, axis=1)))


def precision_at_top(
    score: np.ndarray, hit: np.ndarray, candidates: np.ndarray, share: float
) -> tuple[int, float | None]:
    """How many candidates make the top ``share`` by ``score`` (ties in row order, which is
    customer order) and the share of them with ``hit``; ``(0, None)`` without candidates."""
    rows = np.flatnonzero(candidates)
    if len(rows) == 0:
        return 0, None
    n_top = top_count(share, len(rows))
    top = rows[np.argsort(-score[rows], kind="stable")[:n_top]]
    return n_top, float(np.mean(hit[top]))


@dataclass(frozen=True)
class MoveEvaluation:
    """The model against the transition-matrix baseline on the last pair of dates."""

    #: First and last as-of dates of the training pairs.
    train_dates: tuple[dt.date, dt.date]
    #: The test pair: the last two as-of dates.
    test_dates: tuple[dt.date, dt.date]
    train_customers: int
    test_customers: int
    #: Evaluation states: model classes, baseline columns and actual test states, ascending.
    states: tuple[int, ...]
    #: Actual test states the model never saw in training (scored at the floor).
    unseen_states: tuple[int, ...]
    model_log_loss: float
    baseline_log_loss: float
    model_brier: float
    baseline_brier: float
    target_segment_id: int
    top_share: float
    #: Candidates in the top share (test customers not in the target segment now).
    top_customers: int
    model_precision_at_top: float | None
    baseline_precision_at_top: float | None
    #: Share of all candidates who moved into the target segment.
    base_rate: float | None

    @property
    def beats_baseline(self) -> bool:
        """Whether the model's log loss is lower than the baseline's."""
        return self.model_log_loss < self.baseline_log_loss

    def to_dict(self) -> dict:
        """The evaluation as JSON types (dates as YYYY-MM-DD), ``beats_baseline`` included."""
        figures = {field.name: getattr(self, field.name) for field in fields(self)}
        return figures | {
            "train_dates": [day.isoformat() for day in self.train_dates],
            "test_dates": [day.isoformat() for day in self.test_dates],
            "states": list(self.states),
            "unseen_states": list(self.unseen_states),
            "beats_baseline": self.beats_baseline,
        }


def evaluate_out_of_time(
    pairs: MovePairs,
    target_segment_id: int = AT_RISK,
    *,
    top_share: float = 0.1,
    regularization: float = 1.0,
) -> MoveEvaluation:
    """Train on every pair of dates but the last and score model and baseline on the last.

    Raises
    ------
    InsufficientDataError
        With fewer than two pairs of dates (three as-of dates).
    """
    pair_dates = np.unique(pairs.from_date)
    if len(pair_dates) < 2:
        raise InsufficientDataError(
            f"an out-of-time evaluation needs three as-of dates at least (two pairs); got "
            f"{len(pair_dates)} pair(s). Backfill more past dates."
        )
    is_test = pairs.from_date == pair_dates[-1]
    train, test = pairs.select(~is_test), pairs.select(is_test)
    model, _ = fit_move_model(train, regularization=regularization)
    matrix = count_transitions(
        train.current_segment,
        train.next_state,
        from_date=pair_dates[0].item(),
        to_date=pair_dates[-1].item(),
        pairs=len(pair_dates) - 1,
    )
    states = tuple(sorted({*model.classes, *matrix.to_states, *map(int, test.next_state)}))
    model_q = np.zeros((len(test.next_state), len(states)))
    model_q[:, [states.index(c) for c in model.classes]] = model.predict_proba(
        test.features, test.current_segment
    )
    model_q = floored(model_q)
    base_q = floored(baseline_proba(matrix, test.current_segment, states))
    actual = np.searchsorted(np.array(states), test.next_state)
    target = states.index(target_segment_id) if target_segment_id in states else None
    candidates = test.current_segment != target_segment_id
    hit = test.next_state == target_segment_id
    zero = np.zeros(len(actual))
    n_top, model_precision = precision_at_top(
        model_q[:, target] if target is not None else zero, hit, candidates, top_share
    )
    _, base_precision = precision_at_top(
        base_q[:, target] if target is not None else zero, hit, candidates, top_share
    )
    return MoveEvaluation(
        train_dates=(pair_dates[0].item(), pair_dates[-1].item()),
        test_dates=(pair_dates[-1].item(), test.to_date[0].item()),
        train_customers=len(train.next_state),
        test_customers=len(test.next_state),
        states=states,
        unseen_states=tuple(sorted(set(map(int, test.next_state)) - set(model.classes))),
        model_log_loss=log_loss(model_q, actual),
        baseline_log_loss=log_loss(base_q, actual),
        model_brier=brier_score(model_q, actual),
        baseline_brier=brier_score(base_q, actual),
        target_segment_id=target_segment_id,
        top_share=top_share,
        top_customers=n_top,
        model_precision_at_top=model_precision,
        baseline_precision_at_top=base_precision,
        base_rate=float(np.mean(hit[candidates])) if candidates.any() else None,
    )


@dataclass(frozen=True)
class MoveStudy:
    """The out-of-time evaluation, the model refitted on all pairs and its forecast."""

    evaluation: MoveEvaluation
    model: MoveModel
    forecast: MoveForecast


def study_moves(
    history: CustomerHistory,
    target_segment_id: int = AT_RISK,
    *,
    top_share: float = 0.1,
    regularization: float = 1.0,
    n_drivers: int = 3,
) -> MoveStudy:
    """Evaluate out of time, refit on every pair and forecast after the last as-of date."""
    pairs = move_pairs(history)
    evaluation = evaluate_out_of_time(
        pairs, target_segment_id, top_share=top_share, regularization=regularization
    )
    model, _ = fit_move_model(pairs, regularization=regularization)
    forecast = forecast_moves(model, history, target_segment_id, n_drivers=n_drivers)
    return MoveStudy(evaluation, model, forecast)
