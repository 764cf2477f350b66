"""One segment name as a type: its id, words, naming score, rule, headline and colour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custseg.catalogue.clauses import Clause, Means, Silence

#: Order of the z-scores in a centroid row (the order of the model's clustering features).
Z_SYMBOLS: tuple[str, ...] = ("zR", "zF", "zA")


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
