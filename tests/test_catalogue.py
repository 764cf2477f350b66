"""The segment catalogue: every name written once, its rule checked by its own clauses."""

from __future__ import annotations

import pytest

from custseg.catalogue import (
    CATALOGUE,
    MAX_SEGMENTS,
    SEGMENT_TYPES,
    BelowOverall,
    Extreme,
    Versus,
    color_of,
    markdown_table,
)
from custseg.sample import ARCHETYPES
from tests.support import REPO_ROOT

# Segment means of a hand-made model: (recency days, orders, revenue, order value).
MEANS = {
    0: {
        "recency_days": 60.0,
        "count_orders": 3.0,
        "lifetime_revenue": 3000.0,
        "avg_order_value": 1000.0,
    },
    1: {
        "recency_days": 250.0,
        "count_orders": 12.0,
        "lifetime_revenue": 1200.0,
        "avg_order_value": 100.0,
    },
    2: {
        "recency_days": 170.0,
        "count_orders": 1.0,
        "lifetime_revenue": 30.0,
        "avg_order_value": 30.0,
    },
}
OVERALL = {
    "recency_days": 150.0,
    "count_orders": 5.0,
    "lifetime_revenue": 1400.0,
    "avg_order_value": 380.0,
}


def test_ids_are_the_catalogue_order_and_colours_tell_segments_apart() -> None:
    assert [segment.segment_id for segment in CATALOGUE] == sorted(SEGMENT_TYPES)
    assert len(CATALOGUE) == MAX_SEGMENTS
    assert len({segment.color for segment in CATALOGUE}) == len(CATALOGUE)
    assert color_of(None) == color_of(99) != color_of(0)


def test_the_sample_generator_plants_the_catalogue_s_names() -> None:
    assert tuple(segment.name for segment in CATALOGUE) == ARCHETYPES


def test_an_extreme_clause_names_the_runner_up() -> None:
    highest_value = Extreme("avg_order_value", +1)
    assert highest_value.check(0, MEANS, OVERALL) == (
        True,
        "mean order value 1000.00 is the highest of all segments (next: At-Risk (Lapsing) 100.00)",
    )
    assert highest_value.check(1, MEANS, OVERALL) == (
        False,
        "mean order value 100.00 is not the highest of all segments: Big Spenders has 1000.00",
    )
    longest_silence = Extreme("recency_days", +1, excluding=(2,))
    assert longest_silence.check(1, MEANS, OVERALL)[1] == (
        "mean recency 250.0 days is the longest among segments other than Occasional Shoppers "
        "(next: Big Spenders 60.0 days)"
    )


def test_a_versus_clause_is_met_when_the_other_segment_is_absent() -> None:
    assert Versus("count_orders", +1, 2).check(1, MEANS, OVERALL) == (
        True,
        "mean orders 12.00 is above the 1.00 of Occasional Shoppers",
    )
    assert Versus("count_orders", -1, 3).check(1, MEANS, OVERALL) == (
        True,
        "mean orders 12.00 (no Champions (VIPs) segment to compare with)",
    )


def test_below_overall_compares_with_every_customer() -> None:
    assert BelowOverall("recency_days").check(0, MEANS, OVERALL) == (
        True,
        "mean recency 60.0 days is below the overall mean 150.0 days",
    )
    assert BelowOverall("recency_days").check(1, MEANS, OVERALL)[0] is False


def test_a_segment_meets_its_rule_only_when_every_clause_holds() -> None:
    passed, detail = SEGMENT_TYPES[1].check(MEANS, OVERALL)
    assert passed
    assert detail.count("; ") == len(SEGMENT_TYPES[1].clauses) - 1
    passed, _ = SEGMENT_TYPES[2].check(MEANS, OVERALL)
    assert passed  # fewest orders (1) and least revenue (30)
    swapped = {0: MEANS[1], 1: MEANS[0], 2: MEANS[2]}
    assert SEGMENT_TYPES[0].check(swapped, OVERALL)[0] is False


@pytest.mark.parametrize("segment", CATALOGUE, ids=lambda segment: segment.name)
def test_every_rule_sentence_names_the_features_its_clauses_check(segment) -> None:
    words = {
        "recency_days": "recency",
        "count_orders": "orders",
        "lifetime_revenue": "revenue",
        "avg_order_value": "order value",
    }
    for clause in segment.clauses:
        assert words[clause.feature] in segment.rule, (segment.name, clause)


def test_the_readme_shows_the_catalogue_as_it_is() -> None:
    assert markdown_table() in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
