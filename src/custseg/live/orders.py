"""One order as the live paths receive it, checked field by field.

An order is what one row of ``int_sales_lines_aggregated_to_orders`` holds: the customer, an
order id unique within the customer, the order's date (its first line's) and its revenue (the
sum of its lines' invoice amounts, taxes and delivery included, coupons taken off). Revenue is
kept as a :class:`~decimal.Decimal` so that sums are exact, as the dbt models' decimal sums are.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from custseg.errors import InputDataError

#: Longest customer or order id accepted (an id is a key, not a document).
MAX_ID_LENGTH = 256
#: Fields every order must carry.
ORDER_FIELDS: tuple[str, ...] = ("customer_id", "order_id", "order_date", "revenue")


class InvalidOrderError(InputDataError):
    """An order field is missing or malformed; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Order:
    """One order: who, which, when and how much."""

    customer_id: str
    order_id: str
    order_date: dt.date
    revenue: Decimal

    def to_fields(self) -> dict[str, str]:
        """The order as the text fields of an event (what :func:`parse_order` reads back)."""
        return {
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "order_date": self.order_date.isoformat(),
            "revenue": str(self.revenue),
        }


def parse_order(fields: dict[str, Any]) -> Order:
    """Read an order from ``fields`` (text values, as a stream holds them, or JSON values).

    Raises
    ------
    InvalidOrderError
        A field is missing, empty, too long, not a date (``YYYY-MM-DD``) or not a finite
        revenue >= 0; ``field`` names it.
    """
    for name in ORDER_FIELDS:
        if fields.get(name) is None:
            raise InvalidOrderError(name, "missing; every order needs " + ", ".join(ORDER_FIELDS))
    return Order(
        customer_id=parse_id(fields["customer_id"], "customer_id"),
        order_id=parse_id(fields["order_id"], "order_id"),
        order_date=parse_date(fields["order_date"], "order_date"),
        revenue=parse_revenue(fields["revenue"], "revenue"),
    )


def parse_id(value: Any, field: str) -> str:
    """A non-empty id of at most :data:`MAX_ID_LENGTH` characters (numbers become their text)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidOrderError(field, f"must be text, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidOrderError(field, "is empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidOrderError(field, f"is longer than {MAX_ID_LENGTH} characters")
    return text


def parse_date(value: Any, field: str) -> dt.date:
    """An ISO date, ``YYYY-MM-DD``."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise InvalidOrderError(field, f"must be a date written YYYY-MM-DD, got {value!r:.40}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidOrderError(
            field, f"must be a date written YYYY-MM-DD, got {value!r}"
        ) from None


def parse_revenue(value: Any, field: str) -> Decimal:
    """A finite amount >= 0, from a number or its text; kept exact as a Decimal."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidOrderError(field, f"must be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOrderError(field, "must be a finite number, got " + repr(value))
        value = repr(value)  # the shortest text of the float, not its binary expansion
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidOrderError(field, f"must be a number, got {value!r:.40}") from None
    if not amount.is_finite():
        raise InvalidOrderError(field, f"must be a finite number, got {value!r:.40}")
    if amount < 0:
        raise InvalidOrderError(field, f"must be >= 0, got {value}")
    return amount
