"""The event format: one order per stream entry, and the entries the consumer writes.

An input entry's fields are an order's text fields, ``customer_id``, ``order_id``,
``order_date`` (``YYYY-MM-DD``) and ``revenue`` (decimal text), as
:func:`custseg.live.orders.parse_order` reads them; other fields are ignored. An entry that is
not an order becomes a dead letter: its original fields (as ``original.<field>``, bytes kept as
they came), its entry id, its stream, the field at fault and the reason. A segment change names
the customer, the previous and the new segment, the model and as-of date it was scored with and
the event that caused it.

Entries arrive as Redis sends them: an id and a flat list of field names and values (bytes).
:func:`decode_event` reads the usual entry (the four fields, clean text) on a short path and
hands anything else to :func:`~custseg.live.orders.parse_order`, which names the field at
fault; both accept exactly the same entries with the same result
(``tests/test_stream_events.py`` holds them to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from custseg.live.orders import MAX_ID_LENGTH, InvalidOrderError, parse_order
from custseg.stream.state import order_value

#: Prefix of an event's own fields in its dead letter.
ORIGINAL_PREFIX = "original."
#: The ``field`` of a dead letter whose entry has no fields left (deleted before it was read).
ENTRY_FIELD = "entry"

#: Original fields a dead letter keeps at most (the rest are counted, not kept): the
#: commit script passes a dead letter's fields to one ``XADD``, whose arguments Lua bounds.
MAX_ORIGINAL_FIELDS = 1000
#: An entry's fields as Redis sends them: name, value, name, value, ... (bytes).
RawFields = Sequence[bytes]

_FROM_ISO = dt.date.fromisoformat
# The order fields in the order Order.to_fields and most producers send them.
_USUAL_LAYOUT = [b"customer_id", b"order_id", b"order_date", b"revenue"]
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event that is not a valid new order, and why: it goes to the dead-letter stream."""

    event_id: str
    raw: RawFields | None
    field: str
    reason: str


@dataclass(slots=True)
class Received:
    """An event that is an order: its customer, order id, date (a proleptic ordinal,
    ``dt.date.toordinal``) and revenue (exact)."""

    event_id: str
    raw: RawFields
    customer_id: str
    order_id: str
    day: int
    revenue: Decimal
    #: The order's value in the orders hash (:func:`custseg.stream.state.order_value`).
    value: str


def decode_event(event_id: str, raw: RawFields | None) -> Received | Rejected:
    """Read one stream entry: the order it holds, or why it is rejected (the field named)."""
    if not raw:  # XADD needs a field: an entry without one was deleted before it was read
        return Rejected(event_id, None, ENTRY_FIELD, "deleted from the stream before it was read")
    if len(raw) == 8 and raw[0::2] == _USUAL_LAYOUT:  # as producers mostly send them
        values = raw[1::2]
    else:
        fields = dict(zip(raw[::2], raw[1::2], strict=False))
        values = [fields.get(name) for name in _USUAL_LAYOUT]
    try:
        customer_id = values[0].decode()
        order_id = values[1].decode()
        day_text = values[2].decode()
        revenue_text = values[3].decode()
    except (UnicodeDecodeError, AttributeError):
        return _decode_slowly(event_id, raw)
    # The short path takes only what parse_order takes unchanged: ids already stripped and
    # not too long, a date of ten characters, a finite revenue >= 0.
    if (
        0 < len(customer_id) <= MAX_ID_LENGTH
        and 0 < len(order_id) <= MAX_ID_LENGTH
        and len(day_text) == 10
        and day_text[4] == "-" == day_text[7]  # YYYY-MM-DD: the text is the date's isoformat
        and customer_id == customer_id.strip()
        and order_id == order_id.strip()
    ):
        try:
            day = _FROM_ISO(day_text).toordinal()
            revenue = Decimal(revenue_text.strip())
        except (ValueError, InvalidOperation):
            return _decode_slowly(event_id, raw)
        if revenue.is_finite() and revenue >= _ZERO:
            value = f"{day_text} {revenue}"
            return Received(event_id, raw, customer_id, order_id, day, revenue, value)
    return _decode_slowly(event_id, raw)


def _decode_slowly(event_id: str, raw: RawFields) -> Received | Rejected:
    """Field by field, naming the field that is not UTF-8 text or not a valid order field."""
    fields: dict[str, str] = {}
    for key, value in zip(raw[::2], raw[1::2], strict=False):
        try:
            name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        except UnicodeDecodeError:
            return Rejected(event_id, raw, repr(key)[:60], "field name is not UTF-8 text")
        try:
            fields[name] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError:
            return Rejected(event_id, raw, name, "is not UTF-8 text")
    try:
        order = parse_order(fields)
    except InvalidOrderError as error:
        return Rejected(event_id, raw, error.field, error.reason)
    day = order.order_date.toordinal()
    return Received(
        event_id,
        raw,
        order.customer_id,
        order.order_id,
        day,
        order.revenue,
        order_value(day, order.revenue),
    )


def conflict(received: Received, known_day: int, known_revenue: Decimal) -> Rejected:
    """The dead letter of an order whose id is known with another date or revenue."""
    reason = (
        f"order {received.order_id!r} of customer {received.customer_id!r} is already recorded "
        f"with order_date {dt.date.fromordinal(known_day)} and revenue {known_revenue}, not "
        f"{dt.date.fromordinal(received.day)} and {received.revenue}; an order id names one "
        "order: send a correction as a new order id"
    )
    return Rejected(received.event_id, received.raw, "order_id", reason)


def dead_letter_fields(rejected: Rejected, stream: str) -> list[bytes]:
    """The dead-letter stream entry of ``rejected`` as a flat list of field names and values:
    why, where from, and its original fields (bytes kept as they came)."""
    entry = [
        b"event_id",
        rejected.event_id.encode(),
        b"stream",
        stream.encode(),
        b"field",
        rejected.field.encode(),
        b"reason",
        rejected.reason.encode(),
    ]
    raw = rejected.raw or ()
    for key, value in zip(
        raw[: 2 * MAX_ORIGINAL_FIELDS : 2], raw[1 : 2 * MAX_ORIGINAL_FIELDS : 2], strict=False
    ):
        name = ORIGINAL_PREFIX + key.decode("utf-8", errors="backslashreplace")
        entry += [name.encode(), value]
    if len(raw) > 2 * MAX_ORIGINAL_FIELDS:
        entry += [b"original_fields_not_kept", str(len(raw) // 2 - MAX_ORIGINAL_FIELDS).encode()]
    return entry
