"""The ``segment_definitions`` seed: what each published segment means, in the warehouse.

One row per segment of the published model: id, name, description, the scoring rule that gave the
name, the check that the profile supports it, and the centroid and mean profile in original units,
so analysts can read the definitions next to the segments in SQL.
"""

from __future__ import annotations

import csv
import io

from custseg.naming import SEGMENT_DESCRIPTIONS, score_formula
from custseg.segmenter import CustomerSegmenter

DEFINITIONS_HEADER = (
    "segment_id",
    "segment_name",
    "description",
    "naming_score",
    "name_check_rule",
    "name_check_passed",
    "centroid_recency_days",
    "centroid_count_orders",
    "centroid_avg_order_value",
    "mean_lifetime_revenue",
    "count_customers",
    "customer_share",
)


def _number(value: float) -> str:
    """Fixed, readable rendering so the CSV is byte-identical for the same model."""
    return f"{value:.4f}"


def render_segment_definitions_csv(segmenter: CustomerSegmenter) -> bytes:
    """Render the definitions of a fitted segmenter as the ``segment_definitions`` seed."""
    model = segmenter.to_dict()
    checks = {check.segment_id: check for check in segmenter.name_checks_}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DEFINITIONS_HEADER)
    for segment in model["segments"]:
        segment_id = int(segment["segment_id"])
        centroid = segment["centroid_original_units"]
        profile = segment["profile"]
        check = checks[segment_id]
        writer.writerow(
            (
                segment_id,
                segment["segment_name"],
                SEGMENT_DESCRIPTIONS[segment_id],
                score_formula(segment_id),
                check.rule,
                "true" if check.passed else "false",
                _number(centroid["recency_days"]),
                _number(centroid["count_orders"]),
                _number(centroid["avg_order_value"]),
                _number(profile["mean"]["lifetime_revenue"]),
                profile["count"],
                _number(profile["share"]),
            )
        )
    return buffer.getvalue().encode("utf-8")
