"""Seeds that describe the published model in the warehouse.

``segment_definitions``: what each segment means. ``segment_model_parameters``: the scaler and
centroids, so SQL can score customers exactly like Python.

``segment_definitions`` has one row per segment: id, name, description, the scoring rule that
gave the name, the check that the profile supports it, and the centroid and size, so analysts can
read the definitions next to the segments in SQL.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from custseg.naming import SEGMENT_DESCRIPTIONS, SEGMENT_NAMES, score_formula
from custseg.segmenter import CLUSTER_FEATURES, FEATURES, CustomerSegmenter

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


def render_segment_definitions_csv(
    segmenter: CustomerSegmenter, labels: np.ndarray, features: np.ndarray
) -> bytes:
    """Render the definitions of a fitted segmenter as the ``segment_definitions`` seed.

    Sizes and mean revenue are those of the published segments, ``labels`` (one segment id per
    row of ``features``, the matrix of :data:`custseg.segmenter.FEATURES`), which may be more
    customers than the model was fitted on.
    """
    model = segmenter.to_dict()
    checks = {check.segment_id: check for check in segmenter.name_checks_}
    revenue = features[:, FEATURES.index("lifetime_revenue")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DEFINITIONS_HEADER)
    for segment in model["segments"]:
        segment_id = int(segment["segment_id"])
        centroid = segment["centroid_original_units"]
        members = labels == segment_id
        count = int(members.sum())
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
                _number(float(revenue[members].mean()) if count else 0.0),
                count,
                _number(count / len(labels)),
            )
        )
    return buffer.getvalue().encode("utf-8")


PARAMETERS_HEADER = ("segment_id", "segment_name") + tuple(
    f"{feature}_{part}"
    for feature in ("recency_days", "count_orders", "avg_order_value")
    for part in ("mean", "scale", "centroid")
)


def render_model_parameters_csv(segmenter: CustomerSegmenter) -> bytes:
    """Render the scaler and centroids as the ``segment_model_parameters`` seed.

    One row per segment with, for each clustering feature, the scaler's mean and scale (the same
    on every row) and the segment's centroid in the scaled space. The model
    ``customer_segment_scores`` applies the same transforms in SQL and assigns each customer to
    the nearest centroid, so the warehouse can score every customer without a per-customer seed.
    Floats are written with ``repr`` so SQL sees exactly the model's values.
    """
    if tuple(CLUSTER_FEATURES) != ("recency_days", "count_orders", "avg_order_value"):
        raise AssertionError("customer_segment_scores.sql hard-codes the clustering features")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PARAMETERS_HEADER)
    for row, segment_id in enumerate(segmenter.segment_ids_):
        values: list[object] = [segment_id, SEGMENT_NAMES[segment_id]]
        for column in range(len(CLUSTER_FEATURES)):
            values += [
                repr(float(segmenter.scaler_mean_[column])),
                repr(float(segmenter.scaler_scale_[column])),
                repr(float(segmenter.centroids_[row, column])),
            ]
        writer.writerow(values)
    return buffer.getvalue().encode("utf-8")
