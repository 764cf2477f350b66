"""The clauses a segment name's rule is made of: each checks itself and writes its numbers.

A rule (:class:`custseg.catalogue.SegmentType`) is a tuple of clauses. Relative clauses compare a
segment's mean profile with the other segments of the same model (:class:`Extreme`,
:class:`Versus`) or with every customer (:class:`BelowOverall`); absolute clauses compare the
segment's median customer with a fixed floor or ceiling (:class:`MedianAtLeast`,
:class:`MedianBelow`), with the typical customer (:class:`WellAboveTypical`), or with the
customers' own purchase rhythm (:class:`SilenceInGaps`, :class:`NotDormantOneTime`, reading the
median silence of :mod:`custseg.model.rhythm`). Each ``check`` returns whether the segment meets
the clause and the numbers that decided, in words a marketer reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custseg.catalogue.names import name_of

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
