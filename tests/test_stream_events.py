"""The consumer's short path for the usual event reads exactly what ``parse_order`` reads.

:func:`custseg.stream.events.decode_event` takes a clean four-field entry without calling
``parse_order``; these tests hold the two to the same answer (the same order, or a rejection
naming the same field) on hand-picked edge cases and on generated field values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custseg.live.orders import InvalidOrderError, parse_order
from custseg.stream.events import (
    ENTRY_FIELD,
    MAX_ORIGINAL_FIELDS,
    Received,
    Rejected,
    dead_letter_fields,
    decode_event,
)
from custseg.stream.state import order_value

FIELDS = ("customer_id", "order_id", "order_date", "revenue")


def flat(fields: dict[str, str | bytes]) -> list[bytes]:
    """An entry's fields as Redis sends them."""
    out: list[bytes] = []
    for name, value in fields.items():
        out += [name.encode(), value if isinstance(value, bytes) else value.encode()]
    return out


def by_parse_order(fields: dict[str, str | bytes]) -> tuple | str:
    """What the long path makes of ``fields``: the order's parts, or the field at fault."""
    try:
        text = {k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in fields.items()}
    except UnicodeDecodeError:
        return next(k for k, v in fields.items() if isinstance(v, bytes))
    try:
        order = parse_order(text)
    except InvalidOrderError as error:
        return error.field
    day = order.order_date.toordinal()
    return (order.customer_id, order.order_id, day, order.revenue, order_value(day, order.revenue))


def by_decode_event(fields: dict[str, str | bytes]) -> tuple | str:
    event = decode_event("1-0", flat(fields))
    if isinstance(event, Rejected):
        return event.field
    assert isinstance(event, Received)
    return (event.customer_id, event.order_id, event.day, event.revenue, event.value)


def order(**changed: str | bytes) -> dict[str, str | bytes]:
    return {"customer_id": "c1", "order_id": "o1", "order_date": "2019-03-04",
            "revenue": "12.50", **changed}  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        order(),
        order(revenue="0"),
        order(revenue="-0"),
        order(revenue="1e2"),
        order(revenue=" 7.10 "),
        order(revenue="1_000"),
        order(revenue="+3"),
        order(revenue="-0.01"),
        order(revenue="NaN"),
        order(revenue="sNaN"),
        order(revenue="Infinity"),
        order(revenue="12,50"),
        order(revenue=""),
        order(customer_id=" c1"),
        order(customer_id="c1 "),
        order(customer_id="   "),
        order(customer_id=""),
        order(customer_id="x" * 256),
        order(customer_id="x" * 257),
        order(order_id="\tO-7"),
        order(order_date="2019-02-29"),
        order(order_date="2020-02-29"),
        order(order_date="2019-3-4"),
        order(order_date="20190304"),
        order(order_date="2019-W10-1"),
        order(order_date=" 2019-03-04"),
        order(order_date="2019-03-04T00"),
        order(customer_id=b"\xff\xfe"),
        order(revenue=b"\xc3"),
        {**order(), "channel": "web"},
        {"revenue": "5", "order_date": "2019-01-01", "order_id": "o", "customer_id": "c"},
        {k: v for k, v in order().items() if k != "revenue"},
        {"hello": "world"},
    ],
)
def test_the_short_path_reads_what_parse_order_reads(fields: dict[str, str | bytes]) -> None:
    assert by_decode_event(fields) == by_parse_order(fields)


texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["2019-03-04", "2019-W10-1", "1e3", "-1", "0.00", " 5", "NaN", "c 1"]),
)


@settings(max_examples=400, deadline=None)
@given(customer_id=texts, order_id=texts, order_date=texts, revenue=texts)
def test_generated_fields_are_read_alike(
    customer_id: str, order_id: str, order_date: str, revenue: str
) -> None:
    fields = {"customer_id": customer_id, "order_id": order_id, "order_date": order_date,
              "revenue": revenue}  # fmt: skip
    assert by_decode_event(fields) == by_parse_order(fields)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    cents=st.integers(min_value=0, max_value=10**12),
)
def test_a_valid_order_takes_the_short_path_with_its_value(day: dt.date, cents: int) -> None:
    revenue = Decimal(cents).scaleb(-2)
    event = decode_event("1-0", flat(order(order_date=day.isoformat(), revenue=str(revenue))))
    assert isinstance(event, Received)
    assert (event.day, event.revenue) == (day.toordinal(), revenue)
    assert event.value == order_value(day.toordinal(), revenue) == f"{day.isoformat()} {revenue}"


def test_an_entry_without_fields_was_deleted() -> None:
    for raw in (None, []):
        event = decode_event("5-1", raw)
        assert isinstance(event, Rejected) and event.field == ENTRY_FIELD


def test_a_dead_letter_keeps_a_thousand_original_fields_and_counts_the_rest() -> None:
    raw = flat({f"f{number}": str(number) for number in range(1500)})
    event = decode_event("7-0", raw)
    assert isinstance(event, Rejected) and event.field == "customer_id"
    fields = dead_letter_fields(event, "orders")
    names = fields[::2]
    assert len(names) == 4 + MAX_ORIGINAL_FIELDS + 1
    assert names[4:6] == [b"original.f0", b"original.f1"]
    assert fields[-2:] == [b"original_fields_not_kept", b"500"]
