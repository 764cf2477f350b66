"""One batch of events applied to the touched customers' orders, and the customers re-scored.

No Redis here: the consumer reads the state of the customers a batch names, calls
:func:`apply_batch`, and writes the :class:`BatchEffects` in one transaction with the batch's
acknowledgement. Orders are kept in a :class:`custseg.live.features.OrderBook`, by order id: a
repeat changes nothing, and a copy with another date or revenue is rejected (the first one
received stands). Every customer who received a new order is scored once per batch, all of them
in one vectorised predict, as of the batch's as-of date, from running totals of their features
(:class:`custseg.live.features.FeatureTotals`) that a new order updates; a customer without an
order before that date has no segment yet and is not written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from custseg.live.features import Added, FeatureTotals, OrderBook, feature_matrix
from custseg.live.scoring import LoadedModel
from custseg.live.state_store import CustomerSegment
from custseg.stream.events import Received, Rejected, conflict, segment_change_fields
from custseg.stream.state import CustomerState, order_value


@dataclass
class BatchEffects:
    """What a batch changes: written together with the batch's acknowledgement, or not at all."""

    #: Every event of the batch, acknowledged by the same transaction.
    event_ids: list[str] = field(default_factory=list)
    #: The new state of every customer who received a new order.
    states: dict[str, CustomerState] = field(default_factory=dict)
    #: Their new orders, as the orders hash holds them: customer -> order id -> value.
    new_order_values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Each re-scored customer's state store hash and the event that last touched them.
    segments: list[tuple[CustomerSegment, str]] = field(default_factory=list)
    #: Output stream entries: customers whose segment changed.
    changes: list[dict[str, str]] = field(default_factory=list)
    #: Dead letters: malformed events and conflicting copies of known orders.
    rejected: list[Rejected] = field(default_factory=list)
    new_orders: int = 0
    repeats: int = 0


def customers_of(events: Sequence[Received | Rejected]) -> list[str]:
    """The customers the batch's orders name, in the order they first appear."""
    return list(dict.fromkeys(e.order.customer_id for e in events if isinstance(e, Received)))


def apply_batch(
    events: Sequence[Received | Rejected],
    book: OrderBook,
    states: Mapping[str, CustomerState],
    model: LoadedModel,
    as_of_date: dt.date,
) -> BatchEffects:
    """Apply ``events`` (in stream order) to ``book`` and ``states`` and score.

    ``book`` holds every order of the customers the events name, ``states`` their states. Both
    are updated in place: if the batch is not committed, the caller forgets these customers.
    """
    effects = BatchEffects(event_ids=[event.event_id for event in events])
    as_of = as_of_date.toordinal()
    # Customers with a new order -> the last event that brought one.
    touched: dict[str, str] = {}
    for event in events:
        if isinstance(event, Rejected):
            effects.rejected.append(event)
            continue
        order = event.order
        added = book.add(order)
        if added is Added.NEW:
            day = order.order_date.toordinal()
            touched[order.customer_id] = event.event_id
            effects.new_orders += 1
            effects.new_order_values.setdefault(order.customer_id, {})[order.order_id] = (
                order_value(day, order.revenue)
            )
            totals = states[order.customer_id].totals
            if totals is not None and totals.as_of == as_of:
                totals.add(day, order.revenue)
        elif added is Added.REPEAT:
            effects.repeats += 1
        else:
            known_day, revenue = book.orders_of(order.customer_id)[order.order_id]
            effects.rejected.append(
                conflict(event, dt.date.fromordinal(known_day).isoformat(), str(revenue))
            )
    rows = []
    for customer_id in touched:
        state = states[customer_id]
        state.version += 1
        effects.states[customer_id] = state
        if state.totals is None or state.totals.as_of != as_of:
            state.totals = FeatureTotals(as_of_date)
            for day, revenue in book.orders_of(customer_id).values():
                state.totals.add(day, revenue)
        row = state.totals.features(customer_id)
        if row is not None:
            rows.append(row)
    if rows:
        _score(rows, effects, touched, model, as_of_date)
    return effects


def _score(
    rows: list, effects: BatchEffects, touched: dict[str, str], model: LoadedModel, as_of: dt.date
) -> None:
    segment_ids = model.segment_ids(feature_matrix(rows))
    for row, segment_id in zip(rows, segment_ids.tolist(), strict=True):
        segment = CustomerSegment(
            customer_id=row.customer_id,
            segment_id=segment_id,
            segment_name=model.segment_name(segment_id),
            model_version=model.version,
            as_of_date=as_of.isoformat(),
            recency_days=row.recency_days,
            count_orders=row.count_orders,
            lifetime_revenue=row.lifetime_revenue,
            avg_order_value=row.avg_order_value,
        )
        event_id = touched[row.customer_id]
        effects.segments.append((segment, event_id))
        state = effects.states[row.customer_id]
        if state.segment_id != segment_id:
            previous_name = "" if state.segment_id is None else model.segment_name(state.segment_id)
            effects.changes.append(
                segment_change_fields(segment, state.segment_id, previous_name, event_id)
            )
        state.segment_id = segment_id
        state.model_version = model.version
