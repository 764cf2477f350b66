"""One chunk of generated customers, with their orders and sales lines, as Arrow tables.

A chunk is drawn from one random generator in a fixed order: the customers (archetype,
demographics, how many orders, when, of what typical value), then their orders (date, value,
delivery charge, number of lines, transaction id), then the lines (product, quantity, price,
coupon status). Changing that order, or any draw, changes the data generated for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from custseg.sample.archetypes import ARCHETYPES, PROFILES, allocate
from custseg.sample.days import N_DAYS
from custseg.sample.products import ProductCatalogue, categories, product_catalogue

#: Ids of the first customer and the first order of a dataset, numbered on from there.
FIRST_CUSTOMER_ID = 12346
FIRST_TRANSACTION_ID = 16679

GENDERS = ("M", "F")
_GENDER_P = (0.36, 0.64)
LOCATIONS = ("Chicago", "California", "New York", "New Jersey", "Washington DC")
_LOCATION_P = (0.31, 0.32, 0.22, 0.10, 0.05)
COUPON_STATUSES = ("Used", "Not Used", "Clicked")
_COUPON_STATUS_P = (0.34, 0.15, 0.51)
# Quantity people type into the basket (before matching the line's value).
_QUANTITIES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 50])
_QUANTITY_P = np.array([66, 13, 4.5, 2.5, 3.3, 0.9, 0.5, 2.0, 0.6, 0.8, 1.0, 0.6, 0.6, 0.4])
_DELIVERY = np.array([6.0, 6.5, 8.7, 12.48, 12.91, 12.99, 19.99, 35.96])
_DELIVERY_P = np.array([0.50, 0.30, 0.03, 0.03, 0.02, 0.06, 0.03, 0.03])
_FREIGHT = np.array([20.0, 30.0, 50.0, 75.0])  # orders worth more than _FREIGHT_ABOVE
_FREIGHT_ABOVE = 1000.0
_SHARED_PAIR_P = 0.10  # chance that two date-adjacent orders share one Transaction_ID


@dataclass(frozen=True)
class Chunk:
    """The rows one chunk of customers adds to the output files."""

    customers: pa.Table
    sales: pa.Table
    planted: pa.Table
    # Distinct (customer, transaction) pairs: one per generated order, as a shared id always
    # joins two different customers.
    n_orders: int


@dataclass(frozen=True)
class _Customers:
    """Per-customer draws; arrays are aligned by the customer's index in the chunk."""

    customer_id: np.ndarray
    archetype: np.ndarray  # index into ARCHETYPES
    gender: np.ndarray
    location: np.ndarray
    tenure: np.ndarray
    n_orders: np.ndarray
    first_day: np.ndarray  # day-of-year of the first and the last order
    last_day: np.ndarray
    typical_value: np.ndarray  # typical merchandise value of an order


@dataclass(frozen=True)
class _Orders:
    """Per-order draws, sorted by date; arrays are aligned by order."""

    customer: np.ndarray  # index of the customer in the chunk
    day: np.ndarray
    value: np.ndarray
    delivery: np.ndarray
    n_lines: np.ndarray
    transaction_id: np.ndarray


def generate_chunk(
    rng: np.random.Generator, start: int, size: int, line_scale: float, first_txn: int
) -> Chunk:
    """Draw ``size`` customers, numbered from the dataset's ``start``-th, and their sales.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own random stream.
    start : int
        Customers generated before this chunk (its first customer id is
        ``FIRST_CUSTOMER_ID + start``).
    size : int
        Customers in the chunk, at least 1.
    line_scale : float
        Factor on each archetype's ``lines_per_order - 1`` (see
        :func:`custseg.sample.archetypes.line_scale`).
    first_txn : int
        Transaction id of the chunk's first order.

    Returns
    -------
    Chunk
        Customers, sales lines and planted archetypes. Day columns hold the day of the year.
    """
    customers = _draw_customers(rng, start, size)
    orders = _draw_orders(rng, customers, line_scale, first_txn)
    sales = _draw_lines(rng, customers, orders)
    customer_table = pa.table(
        {
            "CustomerID": pa.array(customers.customer_id, pa.int64()),
            "Gender": _dict(customers.gender, pa.array(GENDERS)),
            "Location": _dict(customers.location, pa.array(LOCATIONS)),
            "Tenure_Months": pa.array(customers.tenure, pa.int64()),
        }
    )
    planted = pa.table(
        {
            "customer_id": pa.array(customers.customer_id, pa.int64()),
            "archetype": _dict(customers.archetype, pa.array(ARCHETYPES)),
        }
    )
    return Chunk(customer_table, sales, planted, int(orders.day.size))


def _draw_customers(rng: np.random.Generator, start: int, size: int) -> _Customers:
    customer_id = np.arange(FIRST_CUSTOMER_ID + start, FIRST_CUSTOMER_ID + start + size)
    archetype = rng.permutation(np.repeat(np.arange(len(PROFILES)), allocate(size)))
    gender = rng.choice(len(GENDERS), size, p=_GENDER_P)
    location = rng.choice(len(LOCATIONS), size, p=_LOCATION_P)
    tenure = rng.integers(2, 51, size)

    def per_arch(values: list[float] | list[int]) -> np.ndarray:
        return _per_archetype(values, archetype)

    orders_min = per_arch([p.orders_min for p in PROFILES])
    orders_extra = per_arch([p.orders_extra for p in PROFILES])
    orders_p = per_arch([p.orders_p for p in PROFILES])
    n_orders = orders_min + rng.binomial(orders_extra, orders_p)

    rec_lo = per_arch([p.recency[0] for p in PROFILES])
    rec_hi = per_arch([p.recency[1] for p in PROFILES])
    last_day = (N_DAYS - 1) - (rec_lo + np.floor(rng.random(size) * (rec_hi - rec_lo + 1)))
    span_lo = per_arch([p.span[0] for p in PROFILES])
    span_hi = per_arch([p.span[1] for p in PROFILES])
    span = span_lo + np.floor(rng.random(size) * (span_hi - span_lo + 1))
    first_day = np.maximum(0, last_day - span)
    typical_value = per_arch([p.order_value for p in PROFILES]) * np.exp(
        rng.normal(0.0, 1.0, size) * per_arch([p.customer_sigma for p in PROFILES])
    )
    return _Customers(
        customer_id=customer_id,
        archetype=archetype,
        gender=gender,
        location=location,
        tenure=tenure,
        n_orders=n_orders,
        first_day=first_day,
        last_day=last_day,
        typical_value=typical_value,
    )


def _draw_orders(
    rng: np.random.Generator, customers: _Customers, line_scale: float, first_txn: int
) -> _Orders:
    n_orders_c = customers.n_orders
    n_orders = int(n_orders_c.sum())
    order_cust = np.repeat(np.arange(n_orders_c.size), n_orders_c)
    first_order = np.cumsum(n_orders_c) - n_orders_c
    rank = np.arange(n_orders) - np.repeat(first_order, n_orders_c)
    is_last = rank == np.repeat(n_orders_c - 1, n_orders_c)
    o_first = customers.first_day[order_cust]
    o_last = customers.last_day[order_cust]
    day = np.where(
        is_last, o_last, o_first + np.floor(rng.random(n_orders) * (o_last - o_first + 1))
    ).astype(np.int64)
    order_sigma = _per_archetype([p.order_sigma for p in PROFILES], customers.archetype)
    value = customers.typical_value[order_cust] * np.exp(
        rng.normal(0.0, 1.0, n_orders) * order_sigma[order_cust]
    )
    delivery = _DELIVERY[rng.choice(len(_DELIVERY), n_orders, p=_DELIVERY_P)]
    freight = _FREIGHT[rng.integers(0, len(_FREIGHT), n_orders)]
    delivery = np.where(value > _FREIGHT_ABOVE, freight, delivery)
    lines_per_order = _per_archetype([p.lines_per_order for p in PROFILES], customers.archetype)
    mean_lines = 1.0 + (lines_per_order - 1.0) * line_scale
    n_lines = rng.geometric(1.0 / mean_lines[order_cust])

    # Sort orders by date (random order within a day) and number them.
    order = np.lexsort((rng.random(n_orders), day))
    order_cust = order_cust[order]
    txn = first_txn + np.arange(n_orders, dtype=np.int64)
    # Like the real data, some Transaction_IDs belong to two different customers: pair up
    # date-adjacent orders and let the second reuse the first one's id.
    n_pairs = n_orders // 2
    a = 2 * np.arange(n_pairs)
    share = (rng.random(n_pairs) < _SHARED_PAIR_P) & (order_cust[a] != order_cust[a + 1])
    txn[a[share] + 1] = txn[a[share]]
    return _Orders(
        customer=order_cust,
        day=day[order],
        value=value[order],
        delivery=delivery[order],
        n_lines=n_lines[order],
        transaction_id=txn,
    )


def _draw_lines(rng: np.random.Generator, customers: _Customers, orders: _Orders) -> pa.Table:
    """Spread each order's value over its lines and pick a product and quantity per line."""
    cat = product_catalogue()
    n_orders = orders.day.size
    n_lines = int(orders.n_lines.sum())
    line_order = np.repeat(np.arange(n_orders), orders.n_lines)
    weight = np.exp(rng.normal(0.0, 0.6, n_lines))
    weight_sum = np.bincount(line_order, weights=weight, minlength=n_orders)
    target = orders.value[line_order] * weight / weight_sum[line_order]
    product, quantity = _pick_products(rng, target, cat)
    price = cat.price[product]
    wobble = rng.random(n_lines) < 0.35
    price = np.where(wobble, np.round(price * np.exp(rng.normal(0.0, 0.05, n_lines)), 2), price)
    price = np.maximum(price, 0.01)
    line_category = cat.category[product]
    gift_card = np.array([c.name == "Gift Cards" for c in categories()])[line_category]
    line_delivery = np.where(gift_card, 0.0, orders.delivery[line_order])
    coupon = rng.choice(len(COUPON_STATUSES), n_lines, p=_COUPON_STATUS_P)

    line_cust = orders.customer[line_order]
    return pa.table(
        {
            "CustomerID": pa.array(customers.customer_id[line_cust], pa.int64()),
            "Transaction_ID": pa.array(orders.transaction_id[line_order], pa.int64()),
            "Transaction_Date": pa.array(orders.day[line_order].astype(np.int32), pa.int32()),
            "Product_SKU": _dict(product, cat.sku),
            "Product_Description": _dict(product, cat.description),
            "Product_Category": _dict(line_category, cat.category_names),
            "Quantity": pa.array(quantity, pa.int64()),
            "Avg_Price": pa.array(price, pa.float64()),
            "Delivery_Charges": pa.array(line_delivery, pa.float64()),
            "Coupon_Status": _dict(coupon, pa.array(COUPON_STATUSES)),
        }
    )


def _pick_products(
    rng: np.random.Generator, target: np.ndarray, cat: ProductCatalogue
) -> tuple[np.ndarray, np.ndarray]:
    """Choose a product and quantity per line so that quantity * price is close to ``target``.

    A basket quantity is drawn first; products are then proposed by popularity and accepted when
    their price is within a factor of two of ``target / quantity``. Lines still without a product
    after a few rounds (targets beyond the catalogue's prices) accept any product not dearer than
    1.5 times the target (the quantity then grows); the few left after that get the product with
    the nearest price. The final quantity is ``round(target / price)``, at least 1.
    """
    n = target.size
    qty_p = _QUANTITY_P / _QUANTITY_P.sum()
    wanted = target / _QUANTITIES[rng.choice(len(_QUANTITIES), n, p=qty_p)]
    log_wanted = np.log(np.maximum(wanted, 1e-3))
    log_cap = np.log(np.maximum(1.5 * target, 1e-3))
    product = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for attempt in range(16):
        if todo.size == 0:
            break
        proposal = np.searchsorted(cat.cum_popularity, rng.random(todo.size), side="right")
        proposal = np.minimum(proposal, cat.price.size - 1)
        if attempt < 8:
            ok = np.abs(cat.log_price[proposal] - log_wanted[todo]) < math.log(2.0)
        else:
            ok = cat.log_price[proposal] <= log_cap[todo]
        product[todo[ok]] = proposal[ok]
        todo = todo[~ok]
    if todo.size:
        by_price = np.argsort(cat.price, kind="stable")
        sorted_log = cat.log_price[by_price]
        pos = np.clip(np.searchsorted(sorted_log, log_wanted[todo]), 1, by_price.size - 1)
        nearer_left = (log_wanted[todo] - sorted_log[pos - 1]) < (
            sorted_log[pos] - log_wanted[todo]
        )
        product[todo] = by_price[np.where(nearer_left, pos - 1, pos)]
    quantity = np.maximum(1, np.rint(target / cat.price[product])).astype(np.int64)
    return product, quantity


def _per_archetype(values: list[float] | list[int], archetype: np.ndarray) -> np.ndarray:
    """One value per customer: ``values`` (aligned with ARCHETYPES) taken at each archetype."""
    return np.asarray(values)[archetype]


def _dict(indices: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """A dictionary-encoded column: each row is an index into ``dictionary``."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), dictionary)
