"""What :func:`custseg.segment` and :func:`custseg.load_model` return: plain Python and Arrow."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from custseg.api.tables import assignments_table, read_features
from custseg.catalogue import SEGMENT_NAMES, SEGMENT_TYPES
from custseg.model.features import CLUSTER_FEATURES
from custseg.model.model_file import canonical_json
from custseg.model.segmenter import CustomerSegmenter, segment_profiles
from custseg.model.segmenter_dict import segmenter_to_dict
from custseg.publish.atomic import write_bytes_atomic


class SegmentModel:
    """A fitted segment model: scores per-customer features, and is the JSON model document
    a run writes (``ml_pipeline/models/segment_model.json``).

    Get one from :func:`custseg.segment` (``result.model``) or :func:`custseg.load_model`.

    Examples
    --------
    >>> model = custseg.load_model("ml_pipeline/models/segment_model.json")  # doctest: +SKIP
    >>> model.predict(new_features).to_pylist()[0]  # doctest: +SKIP
    {'customer_id': '12346', 'segment_id': 3, 'segment_name': 'Champions (VIPs)'}
    """

    def __init__(self, segmenter: CustomerSegmenter, document: dict[str, Any]) -> None:
        #: The fitted scikit-learn estimator (for what this API does not cover).
        self.segmenter = segmenter
        #: The model document: the model, its metadata and an integrity hash (JSON types).
        self.document = document

    @property
    def segment_names(self) -> dict[int, str]:
        """The segments of the model: id -> name, by id."""
        return {int(s): SEGMENT_NAMES[int(s)] for s in self.segmenter.segment_ids_}

    def predict(self, features: Any) -> pa.Table:
        """The segment of every customer of ``features``: the nearest centroid.

        Parameters
        ----------
        features : table-like
            One row per customer with ``customer_id`` and the feature columns, as for
            :func:`custseg.segment` (other columns are ignored).

        Returns
        -------
        pyarrow.Table
            ``customer_id, segment_id, segment_name``, in the order of ``features``.

        Raises
        ------
        InputDataError
            A column is missing or ill-typed, or a value is null, NaN, infinite or negative.
        """
        checked = read_features(features)
        return assignments_table(checked.customer_ids, self.segmenter.predict(checked.matrix))

    def to_json(self) -> str:
        """The model file's text: canonical JSON (sorted keys), the same bytes a run writes."""
        return canonical_json(self.document)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file (read it back with :func:`custseg.load_model`); return its path."""
        target = Path(path)
        # All or nothing: a kill mid-write leaves the previous file, never half a model.
        write_bytes_atomic(target, self.to_json().encode("utf-8"))
        return target

    def __repr__(self) -> str:
        names = ", ".join(f"{i} {n}" for i, n in self.segment_names.items())
        return f"SegmentModel({names})"


@dataclass(frozen=True)
class SegmentResult:
    """Segments fitted on in-memory features by :func:`custseg.segment`.

    Everything is plain Python or Arrow; :meth:`to_dict` is JSON-serialisable.
    """

    #: ``customer_id, segment_id, segment_name``, one row per customer in the input's order.
    assignments: pa.Table
    #: Per segment, by id: name, description, naming score, customers, share, mean and median
    #: of every feature, centroid in original units, whether the profile supports the name.
    segments: list[dict[str, Any]]
    #: Per segment: the rule its name must satisfy, whether it held and the numbers that decided.
    name_checks: list[dict[str, Any]]
    #: Silhouette (sampled), Davies-Bouldin, inertia, sizes: ``evaluation_metrics.json``.
    metrics: dict[str, Any]
    #: The fitted model; ``model.document`` is the JSON model document a run writes.
    model: SegmentModel
    #: With ``k="auto"``: the evidence for every k (``k_selection.json``), else None.
    k_selection: dict[str, Any] | None = None
    #: Messages to read: names published although unsupported, changed segment definitions.
    warnings: list[str] = field(default_factory=list)

    @property
    def model_document(self) -> dict[str, Any]:
        """The JSON model document, as a run writes it (``segment_model.json``)."""
        return self.model.document

    @property
    def n_customers(self) -> int:
        return self.assignments.num_rows

    @property
    def n_segments(self) -> int:
        return len(self.segments)

    def predict(self, features: Any) -> pa.Table:
        """Score new customers with the fitted model (see :meth:`SegmentModel.predict`)."""
        return self.model.predict(features)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON types: assignments as a list of rows, the model document."""
        return {
            "n_customers": self.n_customers,
            "n_segments": self.n_segments,
            "assignments": self.assignments.to_pylist(),
            "segments": self.segments,
            "name_checks": self.name_checks,
            "metrics": self.metrics,
            "k_selection": self.k_selection,
            "warnings": list(self.warnings),
            "model": self.model.document,
        }


def segment_summaries(
    segmenter: CustomerSegmenter, matrix: np.ndarray, labels: np.ndarray
) -> list[dict[str, Any]]:
    """The segments over every customer of ``matrix`` (``labels`` their segment ids)."""
    segment_ids = tuple(int(s) for s in segmenter.segment_ids_)
    positions = np.searchsorted(np.array(segment_ids), labels)
    profiles = segment_profiles(matrix, positions, segment_ids)
    model = segmenter_to_dict(segmenter)
    supported = {check.segment_id: check.passed for check in segmenter.name_checks_}
    out = []
    for profile, described in zip(profiles, model["segments"], strict=True):
        segment_id = profile["segment_id"]
        out.append(
            {
                "segment_id": segment_id,
                "segment_name": profile["segment_name"],
                "description": SEGMENT_TYPES[segment_id].description,
                "score_formula": SEGMENT_TYPES[segment_id].score_formula,
                "customers": profile["count"],
                "share": profile["share"],
                "mean": profile["mean"],
                "median": profile["median"],
                "centroid": {f: described["centroid_original_units"][f] for f in CLUSTER_FEATURES},
                "name_supported": supported[segment_id],
            }
        )
    return out
