"""What the consumer keeps in Redis: the key of everything, and each customer's persisted state.

With prefix ``P`` (``custseg`` unless configured):

- ``P:orders:<customer_id>``: a hash of every order received, order id -> ``YYYY-MM-DD
  revenue`` (revenue as the exact decimal text received); a batch adds only its new orders;
- ``P:customer:<customer_id>``: a small JSON string, the customer's state ``version`` (one more
  with each batch that changes the customer) and the segment last written for them
  (``segment_id``, ``model_version``), which a segment change is measured against;
- ``P:segment:<customer_id>``: the state store hash that ``custseg serve`` reads
  (:mod:`custseg.live.state_store`), plus ``event_id``, the event that last changed it;
- ``P:segment_changes``: the output stream, one entry per customer whose segment changed;
- ``P:dead_letters``: the dead-letter stream, one entry per rejected event.

The consumer holds the customers it has seen in memory (:class:`CustomerState`) and reads a
customer's ``customer`` key and orders only when it does not hold them (after a start, or when
another consumer of the group changed the customer). A batch's writes are committed only if
every ``customer`` key it touches still holds the text the consumer read or wrote last; if one
does not, nothing is written and the batch is applied again to the customers read anew.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal

from custseg.errors import InputDataError
from custseg.live.features import FeatureTotals, StoredOrder
from custseg.live.state_store import DEFAULT_PREFIX, segment_key

#: The input stream and consumer group unless configured.
DEFAULT_STREAM = "custseg:orders"
DEFAULT_GROUP = "custseg-consumers"


@dataclass(frozen=True)
class StreamKeys:
    """The names of the input stream and of every key the consumer writes."""

    stream: str = DEFAULT_STREAM
    prefix: str = DEFAULT_PREFIX

    def orders(self, customer_id: str) -> str:
        """The key of a customer's orders (a hash)."""
        return f"{self.prefix}:orders:{customer_id}"

    def customer(self, customer_id: str) -> str:
        """The key of a customer's version and last segment (a JSON string)."""
        return f"{self.prefix}:customer:{customer_id}"

    def segment(self, customer_id: str) -> str:
        """The key of a customer's state store hash (:mod:`custseg.live.state_store`)."""
        return segment_key(self.prefix, customer_id)

    @property
    def segment_changes(self) -> str:
        return f"{self.prefix}:segment_changes"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead_letters"


class CorruptStateError(InputDataError):
    """A customer's persisted state in Redis is not what the consumer writes."""


@dataclass(slots=True)
class CustomerState:
    """One customer as the consumer holds them: their orders, the version and segment last
    written, and the ``customer`` key's text as Redis holds it."""

    #: Every order received, by order id: (date ordinal, revenue).
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    segment_id: int | None = None
    model_version: str | None = None
    #: 0 for a customer never written; one more with each batch that changes them.
    version: int = 0
    #: The ``customer`` key's value in Redis (None: never written). A batch is committed only
    #: if Redis still holds exactly this, so that changes made meanwhile by another consumer
    #: of the group are never overwritten.
    stored: str | None = None
    #: The running totals of their features at one as-of date (in memory only, not persisted).
    totals: FeatureTotals | None = None


def order_value(day: int, revenue: Decimal) -> str:
    """An order's value in the orders hash: ``YYYY-MM-DD revenue``."""
    return f"{dt.date.fromordinal(day).isoformat()} {revenue}"


@functools.lru_cache(maxsize=64)
def _json_text(value: str | None) -> str:
    return json.dumps(value)


def encode_customer(state: CustomerState) -> str:
    """The ``customer`` key's JSON text of ``state`` (its orders are in the orders hash)."""
    segment_id = "null" if state.segment_id is None else int(state.segment_id)
    return (
        f'{{"version":{int(state.version)},"segment_id":{segment_id},'
        f'"model_version":{_json_text(state.model_version)}}}'
    )


def decode_customer(key: str, raw: bytes | None) -> CustomerState:
    """The state :func:`encode_customer` wrote, without its orders (None: never written).

    Raises
    ------
    CorruptStateError
        The value is not such a state; the message names the key.
    """
    if raw is None:
        return CustomerState()
    try:
        document = json.loads(raw)
        segment_id = document["segment_id"]
        return CustomerState(
            segment_id=None if segment_id is None else int(segment_id),
            model_version=document["model_version"],
            version=int(document["version"]),
            stored=raw.decode("utf-8"),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise _corrupt(key, error) from None


def decode_orders(key: str, flat: list[bytes]) -> dict[str, StoredOrder]:
    """The orders of an orders hash, as ``HGETALL`` returns it flat (id, value, id, ...)."""
    orders: dict[str, StoredOrder] = {}
    try:
        for order_id, value in zip(flat[::2], flat[1::2], strict=True):
            day, revenue = value.decode("utf-8").split(" ")
            orders[order_id.decode("utf-8")] = (
                dt.date.fromisoformat(day).toordinal(),
                Decimal(revenue),
            )
    except (ValueError, ArithmeticError) as error:
        raise _corrupt(key, error) from None
    return orders


def _corrupt(key: str, error: Exception) -> CorruptStateError:
    return CorruptStateError(
        f"{key}: not a customer state written by custseg consume ({error}); delete the "
        "customer's keys and send their orders again, or restore them from a backup"
    )
