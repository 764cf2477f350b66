"""One batch of events applied to the touched customers' orders, and the customers re-scored.

No Redis here: the consumer gives :func:`apply_batch` the state of every customer a batch names,
and writes the :class:`BatchEffects` in one script with the batch's acknowledgement. Orders are
kept per customer by order id: a repeat changes nothing, and a copy with another date or
revenue is rejected (the first one received stands). Every customer who received a new order
is scored once per batch, all of them in one vectorised predict, as of the batch's as-of date,
from running totals of their features (:class:`custseg.live.features.FeatureTotals`) that a
new order updates; a customer without an order before that date has no segment yet and gets
no segment hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from custseg.live.features import FeatureTotals
from custseg.live.scoring import LoadedModel
from custseg.live.state_store import SEGMENT_FIELDS
from custseg.model.features import FEATURES
from custseg.stream.events import Received, Rejected, conflict
from custseg.stream.state import CustomerState, encode_customer

#: The segment hash's fields in the order :attr:`CustomerWrite.segment` gives their values.
SEGMENT_HASH_FIELDS: tuple[str, ...] = (*SEGMENT_FIELDS, "event_id")
# The rows scored are built in this order.
if FEATURES != ("recency_days", "count_orders", "lifetime_revenue", "avg_order_value"):
    raise ImportError("custseg.stream.batch builds rows of FEATURES in another order")


#: What a batch writes for one customer who received a new order, as the commit script takes
#: it (:mod:`custseg.stream.writes`): a list of
#:
#: 0. the customer id;
#: 1. the ``customer`` key's text the batch was applied to (False: never written), which the
#:    commit checks Redis still holds;
#: 2. its new text (:func:`custseg.stream.state.encode_customer`);
#: 3. the new orders as the orders hash holds them: order id, value, order id, value, ...;
#: 4. the segment hash's values in the order of :data:`SEGMENT_HASH_FIELDS` (False: the
#:    customer has no order before the as-of date, so no segment yet);
#: 5. the segment change stream entry, field, value, ... (False: the segment did not change).
CustomerWrite = list


@dataclass
class BatchEffects:
    """What a batch changes: written together with the batch's acknowledgement, or not at all."""

    #: Every event of the batch, acknowledged by the same script.
    event_ids: list[str] = field(default_factory=list)
    #: Every customer who received a new order, in the order of their first new order.
    writes: list[CustomerWrite] = field(default_factory=list)
    #: Dead letters: malformed events and conflicting copies of known orders.
    rejected: list[Rejected] = field(default_factory=list)
    new_orders: int = 0
    repeats: int = 0
    segments: int = 0
    changes: int = 0


def customers_of(events: Sequence[Received | Rejected]) -> list[str]:
    """The customers the batch's orders name, in the order they first appear."""
    return list(dict.fromkeys(e.customer_id for e in events if type(e) is Received))


def apply_batch(
    events: Sequence[Received | Rejected],
    states: Mapping[str, CustomerState],
    model: LoadedModel,
    as_of_date: dt.date,
) -> BatchEffects:
    """Apply ``events`` (in stream order) to ``states`` and score.

    ``states`` holds every customer the events name. They are updated in place (orders,
    version, segment, stored text): if the batch is not committed, the caller forgets them.
    """
    effects = BatchEffects(event_ids=[event.event_id for event in events])
    as_of = as_of_date.toordinal()
    rejected = effects.rejected
    # Customer -> the last event that brought a new order, and their new orders.
    touched: dict[str, str] = {}
    new_orders: dict[str, list[str]] = {}
    for event in events:
        if type(event) is Rejected:
            rejected.append(event)
            continue
        customer_id = event.customer_id
        state = states[customer_id]
        received = (event.day, event.revenue)
        known = state.orders.get(event.order_id)
        if known is None:
            state.orders[event.order_id] = received
            touched[customer_id] = event.event_id
            values = new_orders.get(customer_id)
            if values is None:
                values = new_orders[customer_id] = []
            values += (event.order_id, event.value)
            totals = state.totals
            if totals is not None and totals.as_of == as_of:
                totals.add(event.day, event.revenue)
        elif known == received:
            effects.repeats += 1
        else:
            rejected.append(conflict(event, *known))
    effects.new_orders = sum(len(values) for values in new_orders.values()) // 2
    if touched:
        _score(effects, states, touched, new_orders, model, as_of_date)
    return effects


def _score(
    effects: BatchEffects,
    states: Mapping[str, CustomerState],
    touched: dict[str, str],
    new_orders: dict[str, list[str]],
    model: LoadedModel,
    as_of_date: dt.date,
) -> None:
    """Every touched customer's write: new version and orders, and their segment when they
    have an order before the as-of date (scored all at once)."""
    as_of = as_of_date.toordinal()
    writes = effects.writes
    scored: list[tuple[CustomerWrite, CustomerState]] = []
    rows: list[tuple[int, int, float, float]] = []
    for customer_id in touched:
        state = states[customer_id]
        totals = state.totals
        if totals is None or totals.as_of != as_of:
            totals = state.totals = FeatureTotals(as_of_date)
            for day, revenue in state.orders.values():
                totals.add(day, revenue)
        stored = state.stored
        write = [customer_id, False if stored is None else stored, "", new_orders[customer_id],
                 False, False]  # fmt: skip
        writes.append(write)
        if totals.last is not None:
            revenue = float(totals.revenue)
            rows.append((as_of - totals.last, totals.count, revenue, revenue / totals.count))
            scored.append((write, state))
    if rows:
        segment_ids = model.segment_ids(np.array(rows, dtype=np.float64)).tolist()
        version = model.version
        as_of_text = as_of_date.isoformat()
        names = {segment_id: model.segment_name(segment_id) for segment_id in set(segment_ids)}
        for (write, state), row, segment_id in zip(scored, rows, segment_ids, strict=True):
            event_id = touched[write[0]]
            name = names[segment_id]
            recency, count, revenue, order_value_mean = row
            write[4] = [str(segment_id), name, version, as_of_text, str(recency), str(count),
                        repr(revenue), repr(order_value_mean), event_id]  # fmt: skip
            previous = state.segment_id
            if previous != segment_id:
                previous_name = "" if previous is None else model.segment_name(previous)
                write[5] = [
                    "customer_id", write[0],
                    "previous_segment_id", "" if previous is None else str(previous),
                    "previous_segment_name", previous_name,
                    "segment_id", str(segment_id),
                    "segment_name", name,
                    "model_version", version,
                    "as_of_date", as_of_text,
                    "event_id", event_id,
                ]  # fmt: skip
                effects.changes += 1
                state.segment_id = segment_id
            state.model_version = version
        effects.segments = len(scored)
    for write in writes:
        state = states[write[0]]
        state.version += 1
        state.stored = write[2] = encode_customer(state)
