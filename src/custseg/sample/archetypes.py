"""The five planted behaviour archetypes: how many orders, when, and of what value.

The archetypes are the five names of the original guide
(:data:`custseg.catalogue.ORIGINAL_IDS`), by id, so that a segmentation pipeline can be checked
against the truth written to ``planted_segments.csv``.
Their profiles also fix how many sales lines a customer has on average, which is what
``lines_per_customer`` scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from custseg.catalogue import ORIGINAL_IDS, SEGMENT_NAMES

ARCHETYPES: tuple[str, ...] = tuple(SEGMENT_NAMES[s] for s in ORIGINAL_IDS)
"""Names of the planted behaviour archetypes (the catalogue's, by id), as written to
``planted_segments.csv``."""


@dataclass(frozen=True)
class Profile:
    """Buying behaviour of one archetype.

    Orders per customer are ``orders_min + Binomial(orders_extra, orders_p)``. The last purchase
    is ``recency`` days before 31 December (uniform on the closed range) and the first purchase
    is up to ``span`` days before the last (uniform, clipped at 1 January); the other orders fall
    uniformly in between. The merchandise value of an order (quantity times list price, before
    tax, discount and delivery) is lognormal around the customer's typical order value, which is
    itself lognormal around ``order_value``.
    """

    share: float
    orders_min: int
    orders_extra: int
    orders_p: float
    recency: tuple[int, int]
    span: tuple[int, int]
    order_value: float
    customer_sigma: float
    order_sigma: float
    lines_per_order: float  # mean (geometric distribution, at least 1)

    @property
    def mean_orders(self) -> float:
        """Expected number of orders of a customer of this archetype."""
        return self.orders_min + self.orders_extra * self.orders_p


#: One profile per archetype, aligned with :data:`ARCHETYPES`.
PROFILES: tuple[Profile, ...] = (
    # Big Spenders: a few very large orders, last one a few months ago.
    Profile(0.14, 2, 3, 0.45, (30, 150), (60, 330), 2200.0, 0.25, 0.30, 5.0),
    # At-Risk: bought regularly in the first part of the year, then stopped.
    Profile(0.20, 6, 6, 0.45, (150, 300), (100, 300), 110.0, 0.25, 0.35, 3.0),
    # Occasional: one to three small orders at any time of the year.
    Profile(0.30, 1, 2, 0.30, (15, 330), (0, 60), 35.0, 0.30, 0.35, 1.8),
    # Champions: many medium-high orders all year, including the last two weeks.
    Profile(0.14, 22, 18, 0.50, (0, 13), (300, 364), 330.0, 0.20, 0.35, 3.4),
    # Loyal: regular modest orders, recently active.
    Profile(0.22, 10, 8, 0.40, (10, 55), (200, 364), 85.0, 0.20, 0.35, 3.2),
)

_SHARES = np.array([p.share for p in PROFILES])
_MEAN_ORDERS = np.array([p.mean_orders for p in PROFILES])
_MEAN_LINES = np.array([p.lines_per_order for p in PROFILES])


def default_lines_per_customer() -> float:
    """Return the expected number of sales lines per customer with the default profiles.

    Returns
    -------
    float
        Mean ``Online_Sales`` rows per customer when ``lines_per_customer`` is None.
    """
    return float(np.sum(_SHARES * _MEAN_ORDERS * _MEAN_LINES))


def min_lines_per_customer() -> float:
    """Return the smallest ``lines_per_customer`` that can be requested.

    Every order has at least one line and the number of orders defines the archetypes, so the
    line count can only be lowered down to the mean number of orders per customer.

    Returns
    -------
    float
        Mean orders per customer (one line per order).
    """
    return float(np.sum(_SHARES * _MEAN_ORDERS))


def line_scale(lines_per_customer: float | None) -> float:
    """Return the factor applied to ``lines_per_order - 1`` to reach the requested mean.

    Parameters
    ----------
    lines_per_customer : float or None
        Target mean number of sales lines per customer; None keeps the profiles' own.

    Returns
    -------
    float
        1.0 for None; 0.0 for :func:`min_lines_per_customer` (one line per order).

    Raises
    ------
    ValueError
        If ``lines_per_customer`` is not a finite number at least
        :func:`min_lines_per_customer`.
    """
    if lines_per_customer is None:
        return 1.0
    try:
        target = float(lines_per_customer)
    except (TypeError, ValueError):
        raise ValueError(
            f"lines_per_customer must be a number or None, got {lines_per_customer!r}."
        ) from None
    lowest = min_lines_per_customer()
    if not math.isfinite(target) or target < lowest - 1e-9:
        raise ValueError(
            f"lines_per_customer must be a finite number of at least {lowest:.2f} "
            f"(one line per order), got {lines_per_customer!r}."
        )
    extra = float(np.sum(_SHARES * _MEAN_ORDERS * (_MEAN_LINES - 1.0)))
    return max(0.0, (target - lowest) / extra)


def allocate(size: int) -> np.ndarray:
    """Split ``size`` customers over the archetypes by share (largest remainder).

    Parameters
    ----------
    size : int
        Customers to split.

    Returns
    -------
    numpy.ndarray
        Customers per archetype (int64, aligned with :data:`ARCHETYPES`), summing to ``size``.
    """
    exact = _SHARES / _SHARES.sum() * size
    counts = np.floor(exact).astype(np.int64)
    remainder = size - int(counts.sum())
    if remainder:
        # Stable order: biggest fractional part first, ties by archetype index.
        order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
        counts[order[:remainder]] += 1
    return counts
