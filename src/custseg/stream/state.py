"""What the consumer keeps in Redis: the key of everything, and each customer's persisted state.

With prefix ``P`` (``custseg`` unless configured):

- ``P:orders:<customer_id>``: the customer's state, one JSON string: every order received
  (``{"orders": {"<order_id>": ["YYYY-MM-DD", "<revenue>"]}, ...}``, revenue as the exact
  decimal text received) and the segment last written for them (``segment_id``,
  ``model_version``), which is what a segment change is measured against;
- ``P:segment:<customer_id>``: the state store hash that ``custseg serve`` reads
  (:mod:`custseg.live.state_store`), plus ``event_id``, the event that last changed it;
- ``P:segment_changes``: the output stream, one entry per customer whose segment changed;
- ``P:dead_letters``: the dead-letter stream, one entry per rejected event.

A customer's state is one string key so that a batch reads every touched customer with one
``MGET`` and writes them with one ``MSET``, and so that ``WATCH`` guards exactly the customers a
batch touches when several consumers share a group.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from custseg.errors import InputDataError
from custseg.live.features import StoredOrder
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
        """The key of a customer's persisted state."""
        return f"{self.prefix}:orders:{customer_id}"

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


@dataclass
class CustomerState:
    """One customer's persisted state: their orders and the segment last written for them."""

    orders: dict[str, StoredOrder] = field(default_factory=dict)
    segment_id: int | None = None
    model_version: str | None = None


def encode_state(state: CustomerState) -> bytes:
    """The JSON text of ``state`` (dates ISO, revenue as its exact decimal text)."""
    document = {
        "orders": {
            order_id: [dt.date.fromordinal(day).isoformat(), str(revenue)]
            for order_id, (day, revenue) in state.orders.items()
        },
        "segment_id": state.segment_id,
        "model_version": state.model_version,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_state(key: str, raw: bytes | None) -> CustomerState:
    """Read a state :func:`encode_state` wrote (None: a customer not seen yet).

    Raises
    ------
    CorruptStateError
        The value is not such a state; the message names the key.
    """
    if raw is None:
        return CustomerState()
    try:
        document = json.loads(raw)
        orders = {
            str(order_id): (dt.date.fromisoformat(day).toordinal(), Decimal(revenue))
            for order_id, (day, revenue) in document["orders"].items()
        }
        segment_id = document.get("segment_id")
        return CustomerState(
            orders=orders,
            segment_id=None if segment_id is None else int(segment_id),
            model_version=document.get("model_version"),
        )
    except (ValueError, TypeError, KeyError, ArithmeticError) as error:
        raise CorruptStateError(
            f"{key}: not a customer state written by custseg consume ({error}); delete the key "
            "and send the customer's orders again, or restore it from a backup"
        ) from None
