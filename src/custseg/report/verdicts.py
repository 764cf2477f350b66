"""Which way is better for each measure, and the colour a figure takes against the average.

The report colours a figure only where it compares it with the same figure over all customers
(the profile index, the value index, the activity bands). The colour says whether that is good
or bad news for the marketer, not merely higher or lower: a segment that bought 20 days ago
when the average customer bought 100 days ago is *better* (recency: fewer days is better),
while one with a fifth of the average orders is *worse*.

A figure's ratio to the average falls in one of five bands, symmetric on a log scale (1.5 and
its inverse 0.67, 1.15 and its inverse 0.87). The colours are Paul Tol's blue-red diverging
scheme (BuRd), which stays readable for the common colour vision deficiencies: blue is better,
orange-red is worse, and the darker the colour the further from the average. The page never
relies on colour alone: every coloured cell also shows its number and says in words (its
``title``) whether it is better or worse.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How the page explains the bands, beside their legend.
LEGEND_TITLE = (
    "Colours compare a figure with the average customer's: blue is better, orange-red worse "
    "(more orders, revenue and order value are better; for recency, fewer days since the last "
    "purchase). About average is within 15%; much better or worse is at least 1.5 times the "
    "average, or at most two thirds of it."
)

#: Profile measure -> True when a higher value is better for the business.
HIGHER_IS_BETTER: dict[str, bool] = {
    "days_since_last_purchase": False,
    "total_orders": True,
    "total_revenue": True,
    "avg_order_value": True,
}

# Paul Tol's BuRd scheme, from the better end to the worse end.
STRONG_GOOD, GOOD, LIGHT_GOOD = "#4393c3", "#92c5de", "#d1e5f0"
NEUTRAL = "#f7f7f7"
LIGHT_BAD, BAD, STRONG_BAD = "#fddbc7", "#f4a582", "#d6604d"


@dataclass(frozen=True)
class Verdict:
    """One band of the comparison with the average: its CSS class, colour and words."""

    css: str
    color: str
    label: str


# From the best band to the worst; the cells take their background from report.css, which
# defines each class with this colour (a test keeps the two equal).
VERDICTS: tuple[Verdict, ...] = (
    Verdict("good2", GOOD, "much better than average"),
    Verdict("good1", LIGHT_GOOD, "better than average"),
    Verdict("even", NEUTRAL, "about average"),
    Verdict("bad1", LIGHT_BAD, "worse than average"),
    Verdict("bad2", BAD, "much worse than average"),
)
_BY_TIER = dict(zip((2, 1, 0, -1, -2), VERDICTS, strict=True))
# (lowest ratio to the average, tier), from the top band down; below the last: tier -2.
_BANDS: tuple[tuple[float, int], ...] = ((1.5, 2), (1.15, 1), (0.87, 0), (0.67, -1))


def verdict(value: float, average: float, *, higher_is_better: bool) -> Verdict:
    """The band of ``value`` against ``average``; about average when the average is 0.

    Examples
    --------
    >>> verdict(20, 100, higher_is_better=False).css   # recency: 20 days against 100
    'good2'
    >>> verdict(1.2, 2.4, higher_is_better=True).css   # half the average orders
    'bad2'
    """
    if not average:
        return _BY_TIER[0]
    ratio = value / average
    tier = next((tier for low, tier in _BANDS if ratio >= low), -2)
    return _BY_TIER[tier if higher_is_better else -tier]


def measure_verdict(measure: str, value: float, average: float) -> Verdict:
    """:func:`verdict` for a profile measure (see :data:`HIGHER_IS_BETTER`)."""
    return verdict(value, average, higher_is_better=HIGHER_IS_BETTER[measure])
