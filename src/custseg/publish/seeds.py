"""The seeds a run publishes into the dbt project, rendered from the fitted model.

- ``customer_segments``: one row per customer (``customer_id,segment_id,segment_name``), the
  bridge back into dbt (large runs publish it header-only and score in SQL instead);
- ``segment_definitions``: what each segment means and what to do with it (id, name,
  description, recommended action, the naming score, the rule its profile must satisfy, whether
  it held and the numbers that decided, centroid and size), so analysts and campaign owners
  read the definitions next to the segments in SQL and dbt's tests take the valid ids and names
  from it;
- ``segment_model_parameters``: the scaler and centroids, so SQL can score customers exactly
  like Python;
- the drift reference's bins (:func:`render_feature_bins_csv`), so SQL can measure drift on the
  training data's bins.

Every file is rendered with fixed number formats, so the same model gives the same bytes. The
headers come from :mod:`custseg.settings.published_seeds`, which the header-only placeholders dbt
needs before any run (:mod:`custseg.dbt.placeholders`) are written from too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from custseg.catalogue import SEGMENT_NAMES, SEGMENT_TYPES
from custseg.model.drift_reference import drift_reference_of
from custseg.model.features import CLUSTER_FEATURES, FEATURES
from custseg.model.segmenter import CustomerSegmenter
from custseg.model.segmenter_dict import segmenter_to_dict
from custseg.settings.published_seeds import (
    DEFINITIONS_HEADER,
    FEATURE_BINS_HEADER,
    PARAMETERS_HEADER,
    SEGMENTS_HEADER,
    header_line,
)

#: The header-only ``customer_segments`` seed of a run that scores in the warehouse.
SEGMENTS_HEADER_LINE = header_line("customer_segments")


# Characters that make the csv module quote a field: the delimiter, the quote and line ends.
_CSV_SPECIAL = (",", '"', "\r", "\n")


def render_segments_csv(
    customer_ids: Sequence[str], segment_ids: Iterable[int], names: Mapping[int, str]
) -> bytes:
    """Render ``customer_id,segment_id,segment_name`` rows sorted by customer id, LF endings."""
    ids = list(customer_ids)
    labels = (
        segment_ids.tolist()
        if isinstance(segment_ids, np.ndarray)
        else [int(segment_id) for segment_id in segment_ids]
    )
    if len(labels) != len(ids):
        raise ValueError(f"{len(ids)} customer ids but {len(labels)} segment ids.")
    order = sorted(range(len(ids)), key=ids.__getitem__)
    joined = "".join(ids) if all(type(customer_id) is str for customer_id in ids) else None
    if joined is not None and not any(special in joined for special in _CSV_SPECIAL):
        # No id needs quoting: the rows are joined directly, byte for byte what the csv writer
        # below produces (a million rows in 0.8 s instead of 1.5 s, sorting included).
        tails = {}
        for segment_id in set(labels):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow((segment_id, names[segment_id]))
            tails[segment_id] = buffer.getvalue()
        lines = [",".join(SEGMENTS_HEADER)]
        lines.extend(f"{ids[row]},{tails[labels[row]]}" for row in order)
        lines.append("")
        return "\n".join(lines).encode("utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SEGMENTS_HEADER)
    for row in order:
        writer.writerow((ids[row], labels[row], names[labels[row]]))
    return buffer.getvalue().encode("utf-8")


def _number(value: float) -> str:
    """Fixed, readable rendering so the CSV is byte-identical for the same model."""
    return f"{value:.4f}"


def render_segment_definitions_csv(
    segmenter: CustomerSegmenter, labels: np.ndarray, features: np.ndarray
) -> bytes:
    """Render the definitions of a fitted segmenter as the ``segment_definitions`` seed.

    Sizes and mean revenue are those of the published segments, ``labels`` (one segment id per
    row of ``features``, the matrix of :data:`custseg.model.features.FEATURES`), which may be more
    customers than the model was fitted on.
    """
    model = segmenter_to_dict(segmenter)
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
                SEGMENT_TYPES[segment_id].description,
                SEGMENT_TYPES[segment_id].action,
                SEGMENT_TYPES[segment_id].score_formula,
                check.rule,
                "true" if check.passed else "false",
                check.detail,
                _number(centroid["recency_days"]),
                _number(centroid["count_orders"]),
                _number(centroid["avg_order_value"]),
                _number(float(revenue[members].mean()) if count else 0.0),
                count,
                _number(count / len(labels)),
            )
        )
    return buffer.getvalue().encode("utf-8")


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


def render_feature_bins_csv(document: Mapping[str, Any]) -> bytes:
    """Render the bins of a model document's drift reference, one row per feature and bin.

    Columns ``feature_name, bin_index, lower_edge, upper_edge, reference_share``: bin
    ``bin_index`` (from 0) holds the values ``v`` with ``lower_edge < v <= upper_edge``, an
    empty edge being open (the first bin has no lower edge, the last no upper edge);
    ``reference_share`` is the share of the training customers in it. Features in the order of
    :data:`~custseg.model.features.CLUSTER_FEATURES`. Floats are written with ``repr`` so SQL
    sees exactly the model file's values. A model file written before drift references were
    recorded gives the header alone.

    Raises
    ------
    ModelIntegrityError
        If the stored reference is malformed.
    """
    reference = drift_reference_of(document)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FEATURE_BINS_HEADER)
    for bins in () if reference is None else reference.feature_bins:
        for index, ((lower, upper), share) in enumerate(
            zip(bins.bounds(), bins.reference_shares, strict=True)
        ):
            writer.writerow(
                (
                    bins.feature,
                    index,
                    "" if lower is None else repr(lower),
                    "" if upper is None else repr(upper),
                    repr(share),
                )
            )
    return buffer.getvalue().encode("utf-8")
