"""Each customer's orders and the model's features computed from them, as dbt computes them.

The one definition of the features is the dbt macro ``customer_features_as_of``
(``dbt_pipeline/macros/customer_features.sql``); this module is its Python twin for orders that
arrive one at a time. As of a date, a customer's features use only the orders placed *before*
that date:

- ``recency_days``: days from the last order's date to the as-of date;
- ``count_orders``: the orders (distinct order ids);
- ``lifetime_revenue``: the orders' revenue, summed exactly (decimals) and then made a double;
- ``avg_order_value``: ``lifetime_revenue / count_orders`` in doubles;
- ``lifetime_days``: days from the first to the last order, both counted;
- ``count_purchase_days``: the distinct order dates.

``tests/test_live_features.py`` computes both on the real dataset and on hand-made orders and
fails on any difference, so a change to one that is not made to the other cannot land.

Orders are kept per customer by order id: an order received twice is counted once, whatever
the order in which orders arrive, so features never depend on delivery order or repeats.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from operator import attrgetter

import numpy as np

from custseg.live.orders import Order
from custseg.model.features import FEATURES


@dataclass(frozen=True)
class LiveFeatures:
    """One customer's features at an as-of date (original units, dbt's column names)."""

    customer_id: str
    as_of_date: dt.date
    recency_days: int
    count_orders: int
    lifetime_revenue: float
    avg_order_value: float
    lifetime_days: int
    count_purchase_days: int

    def model_row(self) -> tuple[float, ...]:
        """The values of :data:`custseg.model.features.FEATURES`, in that order."""
        return tuple(map(float, _FEATURE_VALUES(self)))


_FEATURE_VALUES = attrgetter(*FEATURES)


class Added(Enum):
    """What receiving an order did to the book."""

    NEW = "new"
    #: The same order (id, date and revenue) was already there: nothing changed.
    REPEAT = "repeat"
    #: The order id was already there with another date or revenue: nothing changed.
    CONFLICT = "conflict"


# One stored order: its date as a proleptic ordinal (dt.date.toordinal) and its revenue.
StoredOrder = tuple[int, Decimal]


class OrderBook:
    """Every customer's orders, by order id; features at any as-of date come from it."""

    def __init__(self) -> None:
        self._orders: dict[str, dict[str, StoredOrder]] = {}

    def add(self, order: Order) -> Added:
        """Record ``order``; a repeat or a conflicting copy of a known order changes nothing."""
        orders = self._orders.setdefault(order.customer_id, {})
        stored = (order.order_date.toordinal(), order.revenue)
        known = orders.get(order.order_id)
        if known is None:
            orders[order.order_id] = stored
            return Added.NEW
        return Added.REPEAT if known == stored else Added.CONFLICT

    def restore(self, customer_id: str, orders: Mapping[str, StoredOrder]) -> None:
        """Put back a customer's orders as :meth:`orders_of` gave them (e.g. from storage),
        replacing what the book held for them."""
        self._orders[customer_id] = dict(orders)

    def forget(self, customer_id: str) -> None:
        """Drop a customer's orders from the book (a cache of them that may be stale)."""
        self._orders.pop(customer_id, None)

    def orders_of(self, customer_id: str) -> dict[str, StoredOrder]:
        """The customer's orders by order id (empty when the customer is unknown)."""
        return dict(self._orders.get(customer_id, {}))

    def customer_ids(self) -> list[str]:
        """Every customer with an order, sorted (code point order, as runs sort them)."""
        return sorted(self._orders)

    def __len__(self) -> int:
        return len(self._orders)

    def features(self, customer_id: str, as_of_date: dt.date) -> LiveFeatures | None:
        """The customer's features as of ``as_of_date``; None without an order before it."""
        return features_as_of(customer_id, self._orders.get(customer_id, {}).values(), as_of_date)

    def all_features(self, as_of_date: dt.date) -> Iterator[LiveFeatures]:
        """Features of every customer with an order before ``as_of_date``, by customer id."""
        for customer_id in self.customer_ids():
            features = self.features(customer_id, as_of_date)
            if features is not None:
                yield features


def as_of_counting_today(today: dt.date | None = None) -> dt.date:
    """The as-of date at which every order up to and including ``today`` (default: today in
    UTC) counts: the day after, since orders dated *before* the as-of date count."""
    return (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)


def features_as_of(
    customer_id: str, orders: Iterable[StoredOrder], as_of_date: dt.date
) -> LiveFeatures | None:
    """Features of one customer's ``orders`` (distinct orders) as of ``as_of_date``."""
    totals = FeatureTotals(as_of_date)
    for day, amount in orders:
        totals.add(day, amount)
    return totals.features(customer_id)


class FeatureTotals:
    """What one customer's features as of a date are made of, kept as their orders arrive.

    :func:`features_as_of` is these totals over every order at once; a consumer of a stream
    keeps them per customer and adds each new (distinct) order, so that a customer's features
    cost one order's work, not all of their orders' again.
    """

    __slots__ = ("as_of", "count", "revenue", "first", "last", "days")

    def __init__(self, as_of_date: dt.date) -> None:
        #: The as-of date as a proleptic ordinal: orders dated before it count.
        self.as_of = as_of_date.toordinal()
        self.count = 0
        self.revenue = Decimal(0)
        self.first: int | None = None
        self.last: int | None = None
        self.days: set[int] = set()

    def add(self, day: int, revenue: Decimal) -> None:
        """Count one more distinct order (a date ordinal and its revenue), if before as-of."""
        if day >= self.as_of:
            return
        self.count += 1
        self.revenue += revenue
        self.days.add(day)
        if self.first is None or day < self.first:
            self.first = day
        if self.last is None or day > self.last:
            self.last = day

    def features(self, customer_id: str) -> LiveFeatures | None:
        """The features of the orders added; None without an order before the as-of date."""
        if self.first is None or self.last is None:
            return None
        lifetime_revenue = float(self.revenue)
        return LiveFeatures(
            customer_id=customer_id,
            as_of_date=dt.date.fromordinal(self.as_of),
            recency_days=self.as_of - self.last,
            count_orders=self.count,
            lifetime_revenue=lifetime_revenue,
            avg_order_value=lifetime_revenue / self.count,
            lifetime_days=self.last - self.first + 1,
            count_purchase_days=len(self.days),
        )


def feature_matrix(rows: Iterable[LiveFeatures]) -> np.ndarray:
    """The (n, 4) matrix the model scores, one row per customer, columns of ``FEATURES``."""
    return np.array([row.model_row() for row in rows], dtype=np.float64).reshape(-1, len(FEATURES))


def totals_row(recency_days: float, orders: float, revenue: float) -> tuple[float, ...]:
    """The model's row from a customer's totals (the scoring service's feature form):
    order value is revenue over orders, as ``customer_features`` computes it."""
    return (float(recency_days), float(orders), float(revenue), float(revenue) / float(orders))
