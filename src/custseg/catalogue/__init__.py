"""The segment catalogue: every segment name custseg can give, written once.

Each :class:`SegmentType` holds everything custseg says or decides about one name: its fixed id
(part of the published contract: tables, dbt tests and dashboards key on it), its name and
description, the *naming score* that picks the cluster it fits best, the *rule* its profile must
then satisfy (as :class:`~custseg.catalogue.clauses.Clause` objects that check themselves and
write the numbers that decided, :mod:`custseg.catalogue.clauses`), the headline of its naming
evidence and its colour in the report (:mod:`custseg.catalogue.segment_type`). Everything else
renders from here: the model's naming and name checks, the ``segment_definitions`` seed (which
the dbt tests read the valid ids and names from), the sample generator's archetypes, the report
and the README's table (a test keeps that table equal to :func:`markdown_table`).

The naming scores are weighted sums of a cluster centroid's z-scores in the clustering space:
``zR`` recency (days since the last purchase; high = silent for a long time), ``zF`` orders (log
scale) and ``zA`` average order value (log scale). In plain words:

- **Big Spenders** = ``2*zA - 0.5*zF``: the biggest baskets, counted twice, with a small penalty
  for buying often (big baskets bought rarely, not VIPs who also buy often).
- **At-Risk (Lapsing)** = ``zR + 0.5*zF``: a long silence since the last purchase, made more
  urgent when the customer used to buy often.
- **Occasional Shoppers** = ``-zF - 0.5*zA``: few orders, and small ones.
- **Champions (VIPs)** = ``1.5*zF - zR + 0.5*zA``: buy the most often, recently, with good
  baskets (so they also spend the most in total).
- **Loyal Customers** = ``zF - zR - 0.5*zA``: buy often and recently, with modest baskets (the
  basket penalty separates them from Champions and Big Spenders).

The weights were checked on the planted archetypes of :mod:`custseg.sample` (every archetype gets
its own name at k=5, over 99% named as planted, every rule holds) and on the real Marketing
Insights data (all five rules hold at k=5). Some clauses are absolute (:class:`MedianAtLeast`,
:class:`MedianBelow`, :class:`WellAboveTypical`, :class:`SilenceInGaps`,
:class:`NotDormantOneTime`): they hold whatever the other segments look like, the last two in
the customers' own purchase rhythm (:mod:`custseg.model.rhythm`).

Ids 5-9 are the wider catalogue of RFM practice (New Customers, Potential Loyalists, One-time
Buyers, Hibernating / Lost, Can't Lose Them). Their rules are absolute only; they are given to
a cluster whose first name does not hold, and to the clusters beyond five when k > 5 (see
:mod:`custseg.model.naming`).
"""

from __future__ import annotations

from collections.abc import Sequence

from custseg.catalogue.clauses import (
    PROFILE_WORDS,
    BelowOverall,
    Clause,
    Extreme,
    Means,
    MedianAtLeast,
    MedianBelow,
    NotDormantOneTime,
    Silence,
    SilenceInGaps,
    Versus,
    WellAboveTypical,
    format_mean,
    median_label,
)
from custseg.catalogue.names import (
    AT_RISK,
    BIG_SPENDERS,
    CANT_LOSE,
    CHAMPIONS,
    HIBERNATING,
    LOYAL,
    NEW_CUSTOMERS,
    OCCASIONAL,
    ONE_TIME,
    ORIGINAL_IDS,
    POTENTIAL_LOYALISTS,
    SEGMENT_NAMES,
    WIDER_IDS,
    name_of,
)
from custseg.catalogue.segment_type import Z_SYMBOLS, Headline, SegmentType

__all__ = [
    "AT_RISK",
    "BIG_SPENDERS",
    "CANT_LOSE",
    "CATALOGUE",
    "CHAMPIONS",
    "FALLBACK_COLOR",
    "HIBERNATING",
    "LOYAL",
    "MAX_AUTO_SEGMENTS",
    "MAX_SEGMENTS",
    "MIN_SEGMENTS",
    "NEW_CUSTOMERS",
    "OCCASIONAL",
    "ONE_TIME",
    "ORIGINAL_IDS",
    "POTENTIAL_LOYALISTS",
    "PROFILE_WORDS",
    "SEGMENT_NAMES",
    "SEGMENT_TYPES",
    "WIDER_IDS",
    "Z_SYMBOLS",
    "BelowOverall",
    "Clause",
    "Extreme",
    "Headline",
    "Means",
    "MedianAtLeast",
    "MedianBelow",
    "NotDormantOneTime",
    "SegmentType",
    "Silence",
    "SilenceInGaps",
    "Versus",
    "WellAboveTypical",
    "color_of",
    "format_mean",
    "markdown_table",
    "median_label",
    "name_of",
    "segment_ids",
]

#: Usual gaps between purchases within which a customer still counts as buying on rhythm
#: (at most one missed purchase), and beyond which a customer is dormant.
ON_RHYTHM_GAPS = 2.0
DORMANT_GAPS = 3.0

#: Segments of mostly one-time buyers: At-Risk (Lapsing) is the longest silent of the others.
_ONE_TIME_IDS = (NEW_CUSTOMERS, ONE_TIME, HIBERNATING)
_REPEAT = MedianAtLeast("count_orders", 2.0, "repeat buyers")
_ONE_TIME = MedianBelow("count_orders", 2.0, "one-time buyers")
_LAPSED = SilenceInGaps(1.0, longer=True, meaning="silent for longer than the usual gap")
_ON_RHYTHM = SilenceInGaps(
    ON_RHYTHM_GAPS, longer=False, meaning="bought within about one usual gap"
)

#: Every segment type, by id. The first five are the names of the original guide (ids 0-4, the
#: original system's contract); the next five are the wider catalogue of RFM practice, given
#: only to a cluster that none of the first five fits (see :mod:`custseg.model.naming`).
CATALOGUE: tuple[SegmentType, ...] = (
    SegmentType(
        segment_id=BIG_SPENDERS,
        name=SEGMENT_NAMES[BIG_SPENDERS],
        description=(
            "Customers with the largest baskets (highest average order value) who buy rarely."
        ),
        action="Upsell: premium products and bundles, to turn big baskets into repeat orders.",
        score_weights=(0.0, -0.5, 2.0),
        rule=(
            "highest mean order value of all segments, and median order value at least 1.5 "
            "times the overall mean; not mostly dormant one-time buyers (median orders below 2 "
            "and median silence over 3 usual gaps)"
        ),
        clauses=(
            Extreme("avg_order_value", +1),
            WellAboveTypical("avg_order_value", 1.5),
            NotDormantOneTime(DORMANT_GAPS),
        ),
        headline=Headline(2, +1, "highest order value"),
        color="#AA4499",
    ),
    SegmentType(
        segment_id=AT_RISK,
        name=SEGMENT_NAMES[AT_RISK],
        description=(
            "Customers who used to buy but have been silent the longest; candidates for win-back."
        ),
        action="Win-back offer: a personal reminder or incentive now, before they are lost.",
        score_weights=(1.0, 0.5, 0.0),
        rule=(
            "longest mean recency among segments other than Occasional Shoppers and the one-time "
            "buyers of the wider catalogue, and mean orders above Occasional Shoppers'; median "
            "orders at least 2 (repeat buyers); median "
            "silence more than 1 usual gap between purchases"
        ),
        clauses=(
            Extreme("recency_days", +1, excluding=(OCCASIONAL, *_ONE_TIME_IDS)),
            Versus("count_orders", +1, OCCASIONAL),
            _REPEAT,
            _LAPSED,
        ),
        headline=Headline(0, +1, "longest since last purchase"),
        color="#CC6677",
    ),
    SegmentType(
        segment_id=OCCASIONAL,
        name=SEGMENT_NAMES[OCCASIONAL],
        description="Customers with few orders and low total revenue.",
        action="Low-cost nurture: newsletters and entry-level offers; no paid campaigns.",
        score_weights=(0.0, -1.0, -0.5),
        rule="lowest mean orders and lowest mean revenue of all segments",
        clauses=(Extreme("count_orders", -1), Extreme("lifetime_revenue", -1)),
        headline=Headline(1, -1, "fewest orders"),
        color="#DDCC77",
    ),
    SegmentType(
        segment_id=CHAMPIONS,
        name=SEGMENT_NAMES[CHAMPIONS],
        description=(
            "The most valuable customers: frequent, recent and with the highest total revenue."
        ),
        action="Reward and retain: VIP programme, early access, referral asks; no discounts.",
        score_weights=(-1.0, 1.5, 0.5),
        rule=(
            "highest mean orders and highest mean revenue of all segments, and mean recency "
            "below the overall mean; median silence at most 2 usual gaps between purchases"
        ),
        clauses=(
            Extreme("count_orders", +1),
            Extreme("lifetime_revenue", +1),
            BelowOverall("recency_days"),
            _ON_RHYTHM,
        ),
        headline=Headline(1, +1, "most orders"),
        color="#117733",
    ),
    SegmentType(
        segment_id=LOYAL,
        name=SEGMENT_NAMES[LOYAL],
        description="Frequent, recent customers with modest baskets.",
        action="Loyalty programme: points and member perks, with upsell towards larger baskets.",
        score_weights=(-1.0, 1.0, -0.5),
        rule=(
            "mean recency below the overall mean; mean orders above Occasional Shoppers' and "
            "below Champions'; mean order value below Big Spenders'; median orders at least 2 "
            "(repeat buyers); median silence at most 2 usual gaps between purchases"
        ),
        clauses=(
            BelowOverall("recency_days"),
            Versus("count_orders", +1, OCCASIONAL),
            Versus("count_orders", -1, CHAMPIONS),
            Versus("avg_order_value", -1, BIG_SPENDERS),
            _REPEAT,
            _ON_RHYTHM,
        ),
        headline=Headline(0, -1, "most recent purchases"),
        color="#332288",
    ),
    SegmentType(
        segment_id=NEW_CUSTOMERS,
        name=SEGMENT_NAMES[NEW_CUSTOMERS],
        description="Customers whose first and only purchase came within the last usual gap.",
        action="Welcome series: onboarding and a second-purchase incentive within one gap.",
        score_weights=(-1.0, -1.0, 0.0),
        rule=(
            "median orders below 2 (one-time buyers so far) and median silence at most 1 usual "
            "gap between purchases (for one order, the last purchase is the first)"
        ),
        clauses=(
            _ONE_TIME,
            SilenceInGaps(
                1.0,
                longer=False,
                meaning="bought within the last usual gap",
                met_when_unknown=False,
            ),
        ),
        headline=Headline(0, -1, "most recent purchases"),
        color="#88CCEE",
    ),
    SegmentType(
        segment_id=POTENTIAL_LOYALISTS,
        name=SEGMENT_NAMES[POTENTIAL_LOYALISTS],
        description="Recent repeat buyers who do not (yet) buy as often as loyal customers.",
        action="Invite to the loyalty programme: membership offer and personal recommendations.",
        score_weights=(-1.0, 0.5, 0.0),
        rule=(
            "median orders at least 2 (repeat buyers) and median silence at most 2 usual gaps "
            "between purchases"
        ),
        clauses=(
            _REPEAT,
            SilenceInGaps(
                ON_RHYTHM_GAPS,
                longer=False,
                meaning="bought within about one usual gap",
                met_when_unknown=False,
            ),
        ),
        headline=Headline(0, -1, "most recent purchases"),
        color="#44AA99",
    ),
    SegmentType(
        segment_id=ONE_TIME,
        name=SEGMENT_NAMES[ONE_TIME],
        description="Customers who bought once, and not so long ago that they are lost.",
        action="Second-purchase offer tied to the first purchase; then let them rest.",
        score_weights=(0.0, -1.0, 0.0),
        rule=(
            "median orders below 2 (one-time buyers) and median silence at most 3 usual gaps "
            "between purchases (not dormant)"
        ),
        clauses=(
            _ONE_TIME,
            SilenceInGaps(
                DORMANT_GAPS, longer=False, meaning="not dormant", met_when_unknown=False
            ),
        ),
        headline=Headline(1, -1, "fewest orders"),
        color="#999933",
    ),
    SegmentType(
        segment_id=HIBERNATING,
        name=SEGMENT_NAMES[HIBERNATING],
        description="Customers silent for more than three usual gaps between purchases.",
        action="Do not disturb: at most one low-cost reactivation; leave out of paid campaigns.",
        score_weights=(1.0, -0.5, 0.0),
        rule="median silence more than 3 usual gaps between purchases",
        clauses=(
            SilenceInGaps(DORMANT_GAPS, longer=True, meaning="dormant", met_when_unknown=False),
        ),
        headline=Headline(0, +1, "longest since last purchase"),
        color="#882255",
    ),
    SegmentType(
        segment_id=CANT_LOSE,
        name=SEGMENT_NAMES[CANT_LOSE],
        description="Former high-value repeat buyers who have gone silent.",
        action="Personal outreach: a call or a hand-written offer from the account owner.",
        score_weights=(0.5, 1.0, 0.5),
        rule=(
            "median orders at least 2 (repeat buyers), median revenue at least 1.5 times the "
            "overall mean, and median silence more than 1 usual gap between purchases"
        ),
        clauses=(
            _REPEAT,
            WellAboveTypical("lifetime_revenue", 1.5),
            SilenceInGaps(
                1.0,
                longer=True,
                meaning="silent for longer than the usual gap",
                met_when_unknown=False,
            ),
        ),
        headline=Headline(1, +1, "most orders"),
        color="#E69F00",
    ),
)

#: Segment id -> its type.
SEGMENT_TYPES: dict[int, SegmentType] = {segment.segment_id: segment for segment in CATALOGUE}
#: Fewest and most segments a model may have: each segment needs a name of its own.
MIN_SEGMENTS = 2
MAX_SEGMENTS = len(CATALOGUE)
#: Most segments ``--k auto`` and ``custseg evaluate`` consider: beyond eight, segments get too
#: small for a campaign each, and every extra k costs a full evaluation. ``--k 9`` and
#: ``--k 10`` can be asked for explicitly.
MAX_AUTO_SEGMENTS = 8
#: Colour of a segment id the catalogue does not know (never expected in a published mart).
FALLBACK_COLOR = "#6b7280"


def color_of(segment_id: int | None) -> str:
    """The report colour of ``segment_id`` (a neutral grey for None or an unknown id)."""
    segment = SEGMENT_TYPES.get(segment_id) if segment_id is not None else None
    return segment.color if segment else FALLBACK_COLOR


def segment_ids() -> Sequence[int]:
    """Every segment id, ascending."""
    return sorted(SEGMENT_TYPES)


def markdown_table() -> str:
    """The catalogue as the README's table: id, name, naming score, rule and recommended action."""
    lines = [
        "| id | name | score | rule its profile must then satisfy | recommended action |",
        "| --- | --- | --- | --- | --- |",
    ]
    for segment in CATALOGUE:
        lines.append(
            f"| {segment.segment_id} | {segment.name} | `{segment.score_formula}` | "
            f"{segment.rule} | {segment.action} |"
        )
    return "\n".join(lines)
