"""A row of ``fct_at_risk_candidates``: a customer who may lapse next, how likely, and why.

The one reading of the table's rows, shared by ``custseg moves`` (which checks them against
Python) and the report (which shows the first ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from custseg.monitoring.move_model import MOVE_FEATURES

#: Drivers listed per customer (driver_1..3 of fct_at_risk_candidates).
N_DRIVERS = 3
#: The columns :meth:`AtRiskCandidate.from_row` reads, in this order.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "at_risk_rank",
    "customer_id",
    "segment_id",
    "segment_name",
    "at_risk_probability",
    *MOVE_FEATURES,
    *(f"driver_{i}_{part}" for i in range(1, N_DRIVERS + 1) for part in ("term", "contribution")),
)
_FIRST_DRIVER = CANDIDATE_COLUMNS.index("driver_1_term")


@dataclass(frozen=True)
class AtRiskCandidate:
    """One row of ``fct_at_risk_candidates``: a customer who may lapse, and why."""

    rank: int
    customer_id: str
    segment_id: int
    segment_name: str
    #: Probability of being At-Risk (Lapsing) at the next as-of date.
    probability: float
    recency_days: float
    count_orders: float
    avg_order_value: float
    #: Up to three (term, contribution to the At-Risk logit), strongest first.
    drivers: tuple[tuple[str, float], ...]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AtRiskCandidate:
        """A candidate from the values of :data:`CANDIDATE_COLUMNS`, in that order."""
        features = dict(zip(MOVE_FEATURES, row[5:_FIRST_DRIVER], strict=True))
        return cls(
            rank=int(row[0]),
            customer_id=str(row[1]),
            segment_id=int(row[2]),
            segment_name=str(row[3]),
            probability=float(row[4]),
            recency_days=float(features["recency_days"]),
            count_orders=float(features["count_orders"]),
            avg_order_value=float(features["avg_order_value"]),
            drivers=tuple(
                (str(row[at]), float(row[at + 1]))
                for at in range(_FIRST_DRIVER, len(CANDIDATE_COLUMNS), 2)
                if row[at] is not None
            ),
        )
