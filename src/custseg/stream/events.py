"""The event format: one order per stream entry, and the entries the consumer writes.

An input entry's fields are an order's text fields, ``customer_id``, ``order_id``,
``order_date`` (``YYYY-MM-DD``) and ``revenue`` (decimal text), as
:func:`custseg.live.orders.parse_order` reads them; other fields are ignored. An entry that is
not an order becomes a dead letter: its original fields (as ``original.<field>``, bytes kept as
they came), its entry id, its stream, the field at fault and the reason. A segment change names
the customer, the previous and the new segment, the model and as-of date it was scored with and
the event that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custseg.live.orders import InvalidOrderError, Order, parse_order
from custseg.live.state_store import CustomerSegment

#: Prefix of an event's own fields in its dead letter.
ORIGINAL_PREFIX = "original."
#: The ``field`` of a dead letter whose entry has no fields left (deleted before it was read).
ENTRY_FIELD = "entry"

RawFields = Mapping[bytes, bytes]


@dataclass(frozen=True)
class Rejected:
    """An event that is not a valid new order, and why: it goes to the dead-letter stream."""

    event_id: str
    raw: RawFields | None
    field: str
    reason: str


@dataclass(frozen=True)
class Received:
    """An event that is an order."""

    event_id: str
    raw: RawFields
    order: Order


def decode_event(event_id: str, raw: RawFields | None) -> Received | Rejected:
    """Read one stream entry: the order it holds, or why it is rejected (the field named)."""
    if not raw:  # XADD needs a field: an entry without one was deleted before it was read
        return Rejected(event_id, None, ENTRY_FIELD, "deleted from the stream before it was read")
    try:
        fields = {key.decode("utf-8"): value.decode("utf-8") for key, value in raw.items()}
    except (UnicodeDecodeError, AttributeError):
        return _decode_slowly(event_id, raw)
    try:
        return Received(event_id, raw, parse_order(fields))
    except InvalidOrderError as error:
        return Rejected(event_id, raw, error.field, error.reason)


def _decode_slowly(event_id: str, raw: RawFields) -> Received | Rejected:
    """Field by field, to name the field that is not UTF-8 text (or take text as it is)."""
    fields: dict[str, str] = {}
    for key, value in raw.items():
        try:
            name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        except UnicodeDecodeError:
            return Rejected(event_id, raw, repr(key)[:60], "field name is not UTF-8 text")
        try:
            fields[name] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError:
            return Rejected(event_id, raw, name, "is not UTF-8 text")
    try:
        return Received(event_id, raw, parse_order(fields))
    except InvalidOrderError as error:
        return Rejected(event_id, raw, error.field, error.reason)


def conflict(received: Received, known_date: str, known_revenue: str) -> Rejected:
    """The dead letter of an order whose id is known with another date or revenue."""
    order = received.order
    reason = (
        f"order {order.order_id!r} of customer {order.customer_id!r} is already recorded with "
        f"order_date {known_date} and revenue {known_revenue}, not {order.order_date} and "
        f"{order.revenue}; an order id names one order: send a correction as a new order id"
    )
    return Rejected(received.event_id, received.raw, "order_id", reason)


def dead_letter_fields(rejected: Rejected, stream: str) -> dict[str, str | bytes]:
    """The dead-letter stream entry of ``rejected``: why, where from, and its original fields."""
    entry: dict[str, str | bytes] = {
        "event_id": rejected.event_id,
        "stream": stream,
        "field": rejected.field,
        "reason": rejected.reason,
    }
    for key, value in (rejected.raw or {}).items():
        name = key if isinstance(key, bytes) else str(key).encode("utf-8")
        entry[ORIGINAL_PREFIX + name.decode("utf-8", errors="backslashreplace")] = value
    return entry


def segment_change_fields(
    segment: CustomerSegment, previous_id: int | None, previous_name: str, event_id: str
) -> dict[str, str]:
    """The output stream entry of a customer whose segment changed (previous empty: none)."""
    return {
        "customer_id": segment.customer_id,
        "previous_segment_id": "" if previous_id is None else str(previous_id),
        "previous_segment_name": previous_name,
        "segment_id": str(segment.segment_id),
        "segment_name": segment.segment_name,
        "model_version": segment.model_version,
        "as_of_date": segment.as_of_date,
        "event_id": event_id,
    }
