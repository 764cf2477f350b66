"""The segment catalogue: every segment name custseg can give, written once.

Each :class:`SegmentType` holds everything custseg says or decides about one name: its fixed id
(part of the published contract: tables, dbt tests and dashboards key on it), its name and
description, the *naming score* that picks the cluster it fits best, the *rule* its profile must
then satisfy (as :class:`Clause` objects that check themselves and write the numbers that
decided), the headline of its naming evidence and its colour in the report. Everything else
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Order of the z-scores in a centroid row (the order of the model's clustering features).
Z_SYMBOLS: tuple[str, ...] = ("zR", "zF", "zA")

#: Profile feature -> (words used in the numbers of a rule, unit suffix, decimals).
PROFILE_WORDS: dict[str, tuple[str, str, int]] = {
    "recency_days": ("mean recency", " days", 1),
    "count_orders": ("mean orders", "", 2),
    "lifetime_revenue": ("mean revenue", "", 2),
    "avg_order_value": ("mean order value", "", 2),
}

#: Segment id -> mean profile (feature -> value) of every segment of one model.
Means = Mapping[int, Mapping[str, float]]
#: Segment id -> median silence in usual gaps between purchases (None: not measured).
Silence = Mapping[int, float | None]


def format_mean(feature: str, value: float) -> str:
    """A mean in original units, e.g. ``"56.0 days"`` or ``"1043.40"``."""
    _, unit, decimals = PROFILE_WORDS[feature]
    return f"{value:.{decimals}f}{unit}"


class Clause:
    """One part of a name's rule. :meth:`check` says whether a segment meets it, and why."""

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        """``(met, the numbers that decided)`` for ``segment_id`` among the segments of ``means``.

        ``overall`` holds the mean of each feature over all customers, ``medians`` the median
        profile of every segment (same keys as ``means``), ``silence`` the median time since the
        last purchase of every segment, counted in its customers' usual gaps between purchases
        (:func:`custseg.model.rhythm.silence_in_gaps`; missing or None when not measured).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class Extreme(Clause):
    """The segment has the highest (``direction`` +1) or lowest (-1) mean of ``feature``.

    Compared with every other segment of the model except ``excluding``. "Highest" is strict: a
    tie does not meet it.
    """

    feature: str
    direction: int
    excluding: tuple[int, ...] = ()

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        label = PROFILE_WORDS[self.feature][0]
        if self.feature == "recency_days" and self.direction > 0:
            word = "longest"
        else:
            word = "highest" if self.direction > 0 else "lowest"
        # Name only the excluded segments the model has: the sentence is about this model.
        present = [s for s in self.excluding if s in means and s != segment_id]
        scope = (
            " among segments other than " + ", ".join(name_of(s) for s in present)
            if present
            else " of all segments"
        )
        others = [s for s in means if s != segment_id and s not in self.excluding]
        value = means[segment_id][self.feature]
        shown = format_mean(self.feature, value)
        if not others:
            return True, f"{label} {shown} (no other segment to compare with)"
        # Runner-up: the most extreme of the others; ties go to the lowest id (stable text).
        rival = min(others, key=lambda s: (-self.direction * means[s][self.feature], s))
        rival_value = means[rival][self.feature]
        rival_shown = f"{name_of(rival)} {format_mean(self.feature, rival_value)}"
        if self.direction * value > self.direction * rival_value:
            return True, f"{label} {shown} is the {word}{scope} (next: {rival_shown})"
        return False, (
            f"{label} {shown} is not the {word}{scope}: {name_of(rival)} has "
            f"{format_mean(self.feature, rival_value)}"
        )


@dataclass(frozen=True)
class Versus(Clause):
    """The segment's mean of ``feature`` is above (+1) or below (-1) that of segment ``other``.

    Met when the model has no such segment (k < 5): there is nothing to contradict it.
    """

    feature: str
    direction: int
    other: int

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        label = PROFILE_WORDS[self.feature][0]
        word = "above" if self.direction > 0 else "below"
        shown = format_mean(self.feature, means[segment_id][self.feature])
        if self.other not in means:
            return True, f"{label} {shown} (no {name_of(self.other)} segment to compare with)"
        other_value = means[self.other][self.feature]
        met = self.direction * means[segment_id][self.feature] > self.direction * other_value
        return met, (
            f"{label} {shown} is {'' if met else 'not '}{word} the "
            f"{format_mean(self.feature, other_value)} of {name_of(self.other)}"
        )


@dataclass(frozen=True)
class BelowOverall(Clause):
    """The segment's mean of ``feature`` is below the mean over all customers."""

    feature: str

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        value = means[segment_id][self.feature]
        met = value < overall[self.feature]
        label = PROFILE_WORDS[self.feature][0]
        return met, (
            f"{label} {format_mean(self.feature, value)} is {'' if met else 'not '}below the "
            f"overall mean {format_mean(self.feature, overall[self.feature])}"
        )


@dataclass(frozen=True)
class MedianAtLeast(Clause):
    """Absolute floor: the segment's median of ``feature`` is at least ``bound``, whatever the
    other segments look like (e.g. median orders at least 2: mostly repeat buyers)."""

    feature: str
    bound: float
    meaning: str  # what meeting the floor means, e.g. "repeat buyers"

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        value = medians[segment_id][self.feature]
        label, shown = median_label(self.feature), format_mean(self.feature, value)
        bound = format_mean(self.feature, self.bound)
        if value >= self.bound:
            return True, f"{label} {shown} is at least {bound} ({self.meaning})"
        return False, f"{label} {shown} is below {bound}: most are not {self.meaning}"


@dataclass(frozen=True)
class WellAboveTypical(Clause):
    """Absolute level: the segment's median of ``feature`` is at least ``factor`` times the mean
    over all customers (the typical customer's), so most of the segment is well above it."""

    feature: str
    factor: float

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        label = median_label(self.feature)
        value = medians[segment_id][self.feature]
        typical = overall[self.feature]
        ratio = value / typical if typical > 0 else float("inf")
        met = ratio >= self.factor
        return met, (
            f"{label} {format_mean(self.feature, value)} is {ratio:.2f} times the overall mean "
            f"{format_mean(self.feature, typical)} ({'' if met else 'not '}at least "
            f"{self.factor:g} times)"
        )


@dataclass(frozen=True)
class MedianBelow(Clause):
    """Absolute ceiling: the segment's median of ``feature`` is below ``bound`` (e.g. median
    orders below 2: mostly one-time buyers)."""

    feature: str
    bound: float
    meaning: str  # what staying below the ceiling means, e.g. "one-time buyers"

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        value = medians[segment_id][self.feature]
        label, shown = median_label(self.feature), format_mean(self.feature, value)
        bound = format_mean(self.feature, self.bound)
        if value < self.bound:
            return True, f"{label} {shown} is below {bound} (mostly {self.meaning})"
        return False, f"{label} {shown} is not below {bound}: most are not {self.meaning}"


@dataclass(frozen=True)
class SilenceInGaps(Clause):
    """Absolute, in the customers' own purchase rhythm: the segment's median *silence* (days
    since the last purchase divided by the customer's usual gap between purchases, see
    :func:`custseg.model.rhythm.silence_in_gaps`) is more than (``longer``) or at most (not
    ``longer``) ``gaps``.

    When the silence was not measured (the caller gave no purchase days, or no customer bought
    on two different days, so no gap is known) the clause cannot be decided: it is met when
    ``met_when_unknown`` (the five names of the original guide, whose relative rules still hold)
    and not met otherwise (the wider catalogue's names, which mean nothing without a rhythm);
    its numbers say so.
    """

    gaps: float
    longer: bool
    meaning: str
    met_when_unknown: bool = True

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        value = (silence or {}).get(segment_id)
        if value is None:
            verdict = "not checked" if self.met_when_unknown else "cannot hold"
            shown = format_mean("recency_days", medians[segment_id]["recency_days"])
            return self.met_when_unknown, (
                f"median recency {shown}, but no usual gap between purchases is known (no "
                f"purchase days measured), so '{self.meaning}' {verdict}"
            )
        met = value > self.gaps if self.longer else value <= self.gaps
        relation = "more than" if self.longer else "at most"
        return met, (
            f"median silence {value:.2f} usual gaps ({'' if met else 'not '}{relation} "
            f"{self.gaps:g}: {self.meaning})"
        )


@dataclass(frozen=True)
class NotDormantOneTime(Clause):
    """Absolute: the segment is not mostly dormant one-time buyers, i.e. not both median orders
    below 2 and a median silence of more than ``gaps`` usual gaps between purchases (a big
    basket bought once, long ago, is a lost customer, not a big spender)."""

    gaps: float

    def check(
        self,
        segment_id: int,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        orders = format_mean("count_orders", medians[segment_id]["count_orders"])
        if medians[segment_id]["count_orders"] >= 2:
            return True, f"median orders {orders}: repeat buyers, not dormant one-time buyers"
        value = (silence or {}).get(segment_id)
        if value is None:
            return True, (
                f"median orders {orders}, but no usual gap between purchases is known, so "
                "dormancy is not checked"
            )
        met = value <= self.gaps
        return met, (
            f"median orders {orders} and median silence {value:.2f} usual gaps: "
            + ("one-time buyers, but not dormant" if met else "mostly dormant one-time buyers")
            + f" (dormant = silent for more than {self.gaps:g} usual gaps)"
        )


def median_label(feature: str) -> str:
    """Words for the median of ``feature`` in a rule's numbers, e.g. ``"median orders"``."""
    return "median" + PROFILE_WORDS[feature][0].removeprefix("mean")


@dataclass(frozen=True)
class Headline:
    """What a name is "about", for its naming evidence: the most extreme cluster on one z-score.

    ``z_index`` is the position in :data:`Z_SYMBOLS`, ``direction`` +1 for high and -1 for low,
    ``phrase`` how the most extreme cluster is described ("highest order value").
    """

    z_index: int
    direction: int
    phrase: str


@dataclass(frozen=True)
class SegmentType:
    """One segment name with its id, meaning, naming score, rule and report colour."""

    # Fixed id: published tables and dbt tests key on it. Never renumber.
    segment_id: int
    name: str
    # One sentence for documentation, the segment_definitions seed and dashboards: what it means.
    description: str
    # One line for the person who sends the campaign: what to do with these customers.
    action: str
    # Weights of the naming score on (zR, zF, zA).
    score_weights: tuple[float, float, float]
    # The rule in plain words; ``clauses`` are its parts, each checked on the segment means.
    rule: str
    clauses: tuple[Clause, ...]
    headline: Headline
    # Colour of the segment in every report chart.
    color: str

    @property
    def score_formula(self) -> str:
        """The naming score as a formula, e.g. ``"2*zA - 0.5*zF"``.

        Terms are ordered by decreasing absolute weight, positive first on ties.
        """
        terms = sorted(
            ((w, sym) for w, sym in zip(self.score_weights, Z_SYMBOLS, strict=True) if w != 0.0),
            key=lambda term: (-abs(term[0]), -term[0]),
        )
        text = ""
        for position, (weight, symbol) in enumerate(terms):
            magnitude = abs(weight)
            term = symbol if magnitude == 1.0 else f"{magnitude:g}*{symbol}"
            if position == 0:
                text = term if weight > 0 else f"-{term}"
            else:
                text += f" + {term}" if weight > 0 else f" - {term}"
        return text

    def check(
        self,
        means: Means,
        overall: Mapping[str, float],
        medians: Means,
        silence: Silence | None = None,
    ) -> tuple[bool, str]:
        """Whether the segment's profile meets every clause, and the numbers of each clause."""
        outcomes = [
            clause.check(self.segment_id, means, overall, medians, silence)
            for clause in self.clauses
        ]
        return all(met for met, _ in outcomes), "; ".join(text for _, text in outcomes)


BIG_SPENDERS, AT_RISK, OCCASIONAL, CHAMPIONS, LOYAL = 0, 1, 2, 3, 4
NEW_CUSTOMERS, POTENTIAL_LOYALISTS, ONE_TIME, HIBERNATING, CANT_LOSE = 5, 6, 7, 8, 9

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
        name="Big Spenders",
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
        name="At-Risk (Lapsing)",
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
        name="Occasional Shoppers",
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
        name="Champions (VIPs)",
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
        name="Loyal Customers",
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
        name="New Customers",
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
        name="Potential Loyalists",
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
        name="One-time Buyers",
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
        name="Hibernating / Lost",
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
        name="Can't Lose Them",
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
#: Segment id -> name (the published contract: never renumber).
SEGMENT_NAMES: dict[int, str] = {segment.segment_id: segment.name for segment in CATALOGUE}
#: The five names of the original guide, and the wider catalogue given when none of them fits.
ORIGINAL_IDS: tuple[int, ...] = (BIG_SPENDERS, AT_RISK, OCCASIONAL, CHAMPIONS, LOYAL)
WIDER_IDS: tuple[int, ...] = (NEW_CUSTOMERS, POTENTIAL_LOYALISTS, ONE_TIME, HIBERNATING, CANT_LOSE)
#: Fewest and most segments a model may have: each segment needs a name of its own.
MIN_SEGMENTS = 2
MAX_SEGMENTS = len(CATALOGUE)
#: Most segments ``--k auto`` and ``custseg evaluate`` consider. Kept at five for now: on the
#: generated sample k=6 scores a higher silhouette by splitting a planted archetype on whole
#: order counts, so a wider range needs a criterion beyond the silhouette first. ``--k 6..10``
#: can be asked for explicitly.
MAX_AUTO_SEGMENTS = 5
#: Colour of a segment id the catalogue does not know (never expected in a published mart).
FALLBACK_COLOR = "#6b7280"


def name_of(segment_id: int) -> str:
    """The name of ``segment_id``."""
    return SEGMENT_NAMES[segment_id]


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
