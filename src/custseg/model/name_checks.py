"""Check, in original units, that each segment's mean profile supports its name.

Each name of the catalogue (:mod:`custseg.catalogue`) carries a rule made of clauses, comparing
a segment's mean recency, orders, revenue and order value with those of the other segments of
the same model, or with the mean over all customers; a comparison with a segment the model does
not have (k < 5) is met by default. Absolute clauses hold whatever the other segments look like:
they compare the segment's *median* customer with a fixed floor (e.g. at least 2 orders), with
the mean over all customers, or with the customers' own purchase rhythm (the median silence in
usual gaps between purchases, ``median_silence_gaps`` in the profile). :func:`check_names`
runs every clause of every segment in one loop and keeps the numbers that decided, so a failed
name can be reported with its evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from custseg.catalogue import PROFILE_WORDS, SEGMENT_NAMES, SEGMENT_TYPES
from custseg.errors import ConfigError


@dataclass(frozen=True)
class NameCheck:
    """Whether one segment's mean profile supports its name (see :func:`check_names`).

    Attributes
    ----------
    segment_id : int
        The segment checked.
    segment_name : str
        Its name, ``SEGMENT_NAMES[segment_id]``.
    rule : str
        The rule in plain words (the catalogue's ``SegmentType.rule``).
    passed : bool
        True when the profile satisfies every part of the rule.
    detail : str
        The numbers that decided, one clause per part of the rule, e.g.
        ``"mean order value 120.50 is not the highest: Loyal Customers has 150.20"``.
    """

    segment_id: int
    segment_name: str
    rule: str
    passed: bool
    detail: str

    def describe(self) -> str:
        """One line for a log or a warning: name, verdict, rule and the deciding numbers."""
        verdict = "supported" if self.passed else "NOT supported"
        return (
            f"segment {self.segment_id} '{self.segment_name}' is {verdict} by its profile "
            f"(rule: {self.rule}; {self.detail})"
        )

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {
            "segment_id": self.segment_id,
            "segment_name": self.segment_name,
            "rule": self.rule,
            "passed": self.passed,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict) -> NameCheck:
        """Rebuild a check written by :meth:`to_dict`."""
        return cls(
            segment_id=int(d["segment_id"]),
            segment_name=str(d["segment_name"]),
            rule=str(d["rule"]),
            passed=bool(d["passed"]),
            detail=str(d["detail"]),
        )


def check_names(profiles: Sequence[Mapping]) -> tuple[NameCheck, ...]:
    """Check that each segment's mean profile meets the rule of its name.

    The overall mean of a feature is over all customers (the count-weighted mean of the segment
    means). "Highest" and "above" are strict: a tie does not support the name.

    Parameters
    ----------
    profiles : sequence of mapping
        One per segment, as in ``CustomerSegmenter.profiles_``: ``segment_id``, ``count``,
        ``mean`` and ``median`` (mappings with ``recency_days``, ``count_orders``,
        ``lifetime_revenue`` and ``avg_order_value``), and optionally ``median_silence_gaps``
        (the median days since the last purchase in the customers' usual gaps between
        purchases, :func:`custseg.model.rhythm.silence_in_gaps`; None or absent when not
        measured), which the rhythm clauses read.

    Returns
    -------
    tuple of NameCheck
        One per profile, in the order given.

    Raises
    ------
    ConfigError
        If the segment ids are not distinct known ids or a profile lacks a count or a mean.
    """
    try:
        segments = [
            (
                int(p["segment_id"]),
                int(p["count"]),
                {f: float(p["mean"][f]) for f in PROFILE_WORDS},
                {f: float(p["median"][f]) for f in PROFILE_WORDS},
            )
            for p in profiles
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"Name checks need per-segment profiles with segment_id, count and the mean and "
            f"median of {', '.join(PROFILE_WORDS)} (as in CustomerSegmenter.profiles_); got one "
            "without "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    ids = [sid for sid, _, _, _ in segments]
    if len(set(ids)) != len(ids) or any(s not in SEGMENT_NAMES for s in ids):
        raise ConfigError(
            f"Name checks need distinct segment ids out of {sorted(SEGMENT_NAMES)}; got {ids}."
        )
    total = sum(count for _, count, _, _ in segments)
    if total <= 0 or any(count <= 0 for _, count, _, _ in segments):
        raise ConfigError("Name checks need a positive customer count for every segment.")
    means = {sid: mean for sid, _, mean, _ in segments}
    silence = {
        int(p["segment_id"]): (
            None if p.get("median_silence_gaps") is None else float(p["median_silence_gaps"])
        )
        for p in profiles
    }
    medians = {sid: median for sid, _, _, median in segments}
    overall = {
        feature: sum(count * mean[feature] for _, count, mean, _ in segments) / total
        for feature in PROFILE_WORDS
    }
    checks = []
    for sid in ids:
        segment = SEGMENT_TYPES[sid]
        passed, detail = segment.check(means, overall, medians, silence)
        checks.append(
            NameCheck(
                segment_id=sid,
                segment_name=segment.name,
                rule=segment.rule,
                passed=passed,
                detail=detail,
            )
        )
    return tuple(checks)
