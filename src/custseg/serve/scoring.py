"""Scoring a request: each customer's features, the model's segments, the answer's rows.

The feature form's row is :func:`custseg.live.features.totals_row` (order value is revenue over
orders, as ``customer_features`` computes it); the order form's features are
:func:`custseg.live.features.features_as_of` of the customer's distinct orders, the Python twin
of the dbt macro. A request is scored with one :class:`~custseg.live.scoring.LoadedModel`, taken
once, so a model published meanwhile never changes an answer half-way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from custseg.catalogue import SEGMENT_NAMES
from custseg.live.features import LiveFeatures, StoredOrder, features_as_of, totals_row
from custseg.live.scoring import LoadedModel
from custseg.serve.schemas import FeatureScoreRequest, OrderScoreRequest


class InvalidRequestError(ValueError):
    """A value the schema lets through breaks a rule across fields; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def score_features(request: FeatureScoreRequest, model: LoadedModel) -> dict[str, Any]:
    """The answer to the feature form (rows in the request's order)."""
    customers = request.customers
    rows = [totals_row(c.recency_days, c.orders, c.revenue) for c in customers]
    ids = model.segment_ids(np.array(rows, dtype=np.float64)).tolist()
    results = [
        {
            "customer_id": c.customer_id,
            "segment_id": segment_id,
            "segment_name": SEGMENT_NAMES[segment_id],
            "recency_days": c.recency_days,
            "count_orders": c.orders,
            "lifetime_revenue": row[2],
            "avg_order_value": row[3],
        }
        for c, segment_id, row in zip(customers, ids, rows, strict=True)
    ]
    return {"model_version": model.version, "as_of_date": None, "results": results}


def score_orders(
    request: OrderScoreRequest, model: LoadedModel, default_as_of: dt.date
) -> dict[str, Any]:
    """The answer to the order form, as of the request's date or ``default_as_of``.

    Raises
    ------
    InvalidRequestError
        An order id given twice with another date or revenue, or a customer without an order
        before the as-of date.
    """
    as_of = request.as_of_date or default_as_of
    rows = [_customer_features(i, customer, as_of) for i, customer in enumerate(request.customers)]
    matrix = np.array([row.model_row() for row in rows], dtype=np.float64)
    ids = model.segment_ids(matrix).tolist()
    results = [
        {
            "customer_id": row.customer_id,
            "segment_id": segment_id,
            "segment_name": SEGMENT_NAMES[segment_id],
            "recency_days": row.recency_days,
            "count_orders": row.count_orders,
            "lifetime_revenue": row.lifetime_revenue,
            "avg_order_value": row.avg_order_value,
        }
        for row, segment_id in zip(rows, ids, strict=True)
    ]
    return {"model_version": model.version, "as_of_date": as_of.isoformat(), "results": results}


def _customer_features(index: int, customer: Any, as_of: dt.date) -> LiveFeatures:
    """One customer's features from their distinct orders (an order id counts once)."""
    orders: dict[str, StoredOrder] = {}
    for j, order in enumerate(customer.orders):
        stored = (order.order_date.toordinal(), order.revenue)
        known = orders.setdefault(order.order_id, stored)
        if known != stored:
            raise InvalidRequestError(
                f"customers[{index}].orders[{j}].order_id",
                f"order {order.order_id!r} is given twice with another date or revenue; send "
                "each order once (the same order given twice counts once)",
            )
    features = features_as_of(customer.customer_id, orders.values(), as_of)
    if features is None:
        raise InvalidRequestError(
            f"customers[{index}].orders",
            f"no order before the as-of date {as_of.isoformat()}; orders on or after it do not "
            "count (give an earlier order or a later as_of_date)",
        )
    return features
