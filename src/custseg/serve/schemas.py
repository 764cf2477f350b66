"""The scoring service's requests and answers: pydantic models, with the OpenAPI examples.

Requests are strict: numbers must be JSON numbers (``"12"`` is refused, as are ``true``, NaN
and Infinity), counts must be whole, unknown keys are refused (a typo such as ``recency`` does
not silently score a default), and every value has bounds wide enough for any real customer and
narrow enough that no arithmetic overflows. A refused request gets 422 naming the field.

``POST /v1/score`` takes one of two forms, told apart by the key ``input``:

- ``"features"`` (the default, so the key may be left out): each customer's totals;
- ``"orders"``: each customer's orders, from which the features are computed as dbt computes
  them, as of ``as_of_date``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    WithJsonSchema,
)

from custseg.live.orders import MAX_ID_LENGTH

#: Bounds of the inputs: far beyond any customer, and small enough that sums and logs stay finite.
MAX_RECENCY_DAYS = 1_000_000
MAX_ORDERS = 1_000_000_000
MAX_REVENUE = 1e15
#: Revenue as decimal text: digits, an optional fraction; no sign, exponent or spaces.
DECIMAL_TEXT = r"^[0-9]{1,16}(\.[0-9]{1,12})?$"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

_DECIMAL_TEXT = re.compile(DECIMAL_TEXT)
_ISO_DATE = re.compile(ISO_DATE)


def _revenue(value: Any) -> Decimal:
    """An order's revenue from a JSON number or decimal text, exactly (text keeps every digit)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError('must be a number >= 0 or its decimal text (e.g. 120.5 or "120.50")')
    if isinstance(value, str):
        if not _DECIMAL_TEXT.match(value):
            raise ValueError(f'must be decimal text such as "120.50", got {value[:40]!r}')
        amount = Decimal(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    else:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if amount < 0:
        raise ValueError("must be >= 0")
    if amount > Decimal(MAX_REVENUE):
        raise ValueError(f"must be <= {MAX_REVENUE:.0e}")
    return amount


def _iso_date(value: Any) -> dt.date:
    """A date written ``YYYY-MM-DD`` (nothing else: no timestamps, no datetimes)."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not a calendar date: {value}") from None


CustomerId = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=r"\S",
        description="The customer's id, as the warehouse holds it.",
        examples=["c1"],
    ),
]
OrderRevenue = Annotated[
    Decimal,
    BeforeValidator(_revenue),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_REVENUE},
                {"type": "string", "pattern": DECIMAL_TEXT},
            ],
            "description": "The order's revenue: a number, or decimal text to keep every digit.",
            "examples": ["120.50"],
        }
    ),
]
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": ISO_DATE}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureCustomer(_Strict):
    """One customer's totals as of the day they are scored."""

    customer_id: CustomerId
    recency_days: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_RECENCY_DAYS, description="Days since the last order (whole days)."),
    ]
    orders: Annotated[
        StrictInt, Field(ge=1, le=MAX_ORDERS, description="Number of orders (distinct orders).")
    ]
    revenue: Annotated[
        float,
        Field(
            strict=True,
            ge=0,
            le=MAX_REVENUE,
            allow_inf_nan=False,
            description="Lifetime revenue of those orders.",
        ),
    ]


class OrderIn(_Strict):
    """One order: a row of ``int_sales_lines_aggregated_to_orders``."""

    order_id: Annotated[
        str,
        Field(strict=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=r"\S"),
    ]
    order_date: IsoDate
    revenue: OrderRevenue


class OrderCustomer(_Strict):
    """One customer's orders (an order id given twice with the same date and revenue counts
    once; with another date or revenue it is refused)."""

    customer_id: CustomerId
    orders: Annotated[list[OrderIn], Field(min_length=1)]


FEATURE_EXAMPLE = {
    "customers": [{"customer_id": "c1", "recency_days": 12, "orders": 7, "revenue": 1234.5}]
}
ORDER_EXAMPLE = {
    "input": "orders",
    "as_of_date": "2020-01-01",
    "customers": [
        {
            "customer_id": "c1",
            "orders": [
                {"order_id": "o1", "order_date": "2019-05-01", "revenue": "120.50"},
                {"order_id": "o2", "order_date": "2019-12-20", "revenue": 80},
            ],
        }
    ],
}


class FeatureScoreRequest(_Strict):
    """Score customers from their totals (the key ``input`` may be left out)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [FEATURE_EXAMPLE]})

    input: Literal["features"] = "features"
    customers: Annotated[list[FeatureCustomer], Field(min_length=1)]


class OrderScoreRequest(_Strict):
    """Score customers from their orders; orders on or after ``as_of_date`` do not count."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ORDER_EXAMPLE]})

    input: Literal["orders"]
    as_of_date: Annotated[
        IsoDate | None,
        Field(
            description="Orders placed before this date count (default: the service's "
            "--as-of-date, else tomorrow in UTC, so that today's orders count)."
        ),
    ] = None
    customers: Annotated[list[OrderCustomer], Field(min_length=1)]


def _form(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    form = body.get("input", "features")
    return form if isinstance(form, str) else "(not text)"


ScoreRequest = Annotated[
    Annotated[FeatureScoreRequest, Tag("features")] | Annotated[OrderScoreRequest, Tag("orders")],
    Discriminator(_form),
]


class ScoreResult(BaseModel):
    """One customer's segment and the features it was scored from (dbt's column names)."""

    customer_id: str
    segment_id: int
    segment_name: str
    recency_days: int
    count_orders: int
    lifetime_revenue: float
    avg_order_value: float


class ScoreResponse(BaseModel):
    """The segments, in the order of the request's customers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "5f0c1e9a...",
                    "as_of_date": None,
                    "results": [
                        {
                            "customer_id": "c1",
                            "segment_id": 3,
                            "segment_name": "Champions (VIPs)",
                            "recency_days": 12,
                            "count_orders": 7,
                            "lifetime_revenue": 1234.5,
                            "avg_order_value": 176.35714285714286,
                        }
                    ],
                }
            ]
        }
    )

    model_version: str = Field(description="The model file's integrity SHA-256.")
    as_of_date: dt.date | None = Field(
        description="The as-of date of the order form; null for the feature form."
    )
    results: list[ScoreResult]


class CustomerSegmentResponse(BaseModel):
    """A customer's latest segment: live from the stream consumer, else the published one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c1",
                    "segment_id": 3,
                    "segment_name": "Champions (VIPs)",
                    "source": "published",
                    "model_version": None,
                    "as_of_date": None,
                    "recency_days": None,
                    "count_orders": None,
                    "lifetime_revenue": None,
                    "avg_order_value": None,
                }
            ]
        }
    )

    customer_id: str
    segment_id: int
    segment_name: str
    source: Literal["stream", "published"] = Field(
        description="stream: the state store of `custseg consume`; published: the last run's "
        "customer_segments.csv."
    )
    model_version: str | None = Field(description="The scoring model's version (stream only).")
    as_of_date: str | None = Field(description="The as-of date it was scored at (stream only).")
    recency_days: int | None
    count_orders: int | None
    lifetime_revenue: float | None
    avg_order_value: float | None


class HealthResponse(BaseModel):
    """The process is up and answering."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Whether the service can answer scoring and lookup requests, and why not."""

    ready: bool
    reason: str | None = Field(description="Why the service is not ready; null when it is.")
    model_version: str | None
    last_reload_error: str | None = Field(
        description="The last published model that failed to load (the previous one serves)."
    )
    state_store: Literal["not configured", "reachable", "unreachable"]


class ErrorResponse(BaseModel):
    """An error the client can act on."""

    detail: str


class FieldError(BaseModel):
    """One refused field: where, and why."""

    field: str = Field(description="The field, e.g. customers[0].revenue (body: the whole body).")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """The request is well-formed JSON but a value is missing or wrong."""

    detail: list[FieldError]
