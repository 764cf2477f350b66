"""The state store: each customer's latest live segment, kept in Redis by ``custseg consume``
and read by ``custseg serve`` (``GET /v1/customers/{id}``).

One Redis hash per customer, key ``<prefix>:segment:<customer_id>`` (prefix ``custseg`` unless
configured), fields :data:`SEGMENT_FIELDS` as text. The consumer writes a customer's hash in the
same transaction as the rest of its state, so a reader sees a segment only once it is durable.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

#: Key prefix of everything custseg keeps in Redis, unless configured.
DEFAULT_PREFIX = "custseg"
#: The environment variable both ``custseg consume`` and ``custseg serve`` read the Redis URL
#: from (a URL with a password belongs there, not on a command line or in a file).
REDIS_URL_ENV = "CUSTSEG_REDIS_URL"
#: Fields of a customer's hash.
SEGMENT_FIELDS: tuple[str, ...] = (
    "segment_id",
    "segment_name",
    "model_version",
    "as_of_date",
    "recency_days",
    "count_orders",
    "lifetime_revenue",
    "avg_order_value",
)


_SEGMENT_VALUES = attrgetter(*SEGMENT_FIELDS)


class HashReader(Protocol):
    """What reading a segment needs of a Redis client (``redis.Redis``)."""

    def hgetall(self, name: str) -> Any: ...


def segment_key(prefix: str, customer_id: str) -> str:
    """The key of a customer's hash."""
    return f"{prefix}:segment:{customer_id}"


@dataclass(frozen=True)
class CustomerSegment:
    """A customer's latest segment and the features it was scored from."""

    customer_id: str
    segment_id: int
    segment_name: str
    model_version: str
    as_of_date: str
    recency_days: int
    count_orders: int
    lifetime_revenue: float
    avg_order_value: float

    def to_hash(self) -> dict[str, str]:
        """The hash's fields as text (``repr`` of floats: they read back exactly)."""
        return dict(zip(SEGMENT_FIELDS, map(_text, _SEGMENT_VALUES(self)), strict=True))

    @classmethod
    def from_hash(cls, customer_id: str, fields: dict[Any, Any]) -> CustomerSegment:
        """Read a hash as :meth:`to_hash` wrote it (keys and values as bytes or text)."""
        text = {_decoded(k): _decoded(v) for k, v in fields.items()}
        return cls(
            customer_id=customer_id,
            segment_id=int(text["segment_id"]),
            segment_name=text["segment_name"],
            model_version=text["model_version"],
            as_of_date=text["as_of_date"],
            recency_days=int(text["recency_days"]),
            count_orders=int(text["count_orders"]),
            lifetime_revenue=float(text["lifetime_revenue"]),
            avg_order_value=float(text["avg_order_value"]),
        )


def read_segment(client: HashReader, prefix: str, customer_id: str) -> CustomerSegment | None:
    """The customer's latest live segment, or None when the consumer has not scored them."""
    fields = client.hgetall(segment_key(prefix, customer_id))
    return CustomerSegment.from_hash(customer_id, fields) if fields else None


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _decoded(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
