"""The run records of the history and the environment that hands a batch to dbt."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from custseg.errors import ModelIntegrityError
from custseg.features import CustomerFeatures
from custseg.model.fitting import FittedSegments
from custseg.model.segmenter import CustomerSegmenter
from custseg.run_identity import RunIdentity

#: Where ``segment_memberships`` takes the new batch from (macros/history.sql).
HISTORY_SOURCE_ENV = "CUSTSEG_HISTORY_SOURCE"
#: The JSON list of the batch's run records, one per as-of date (``segment_runs``).
RUN_RECORDS_ENV = "CUSTSEG_RUN_RECORDS"
#: The JSON list of a backfill's as-of dates (``int_backfill_as_of_dates``).
BACKFILL_DATES_ENV = "CUSTSEG_BACKFILL_DATES"

HistorySource = Literal["run", "backfill", "none"]


@dataclass(frozen=True)
class RunRecord:
    """One row of ``segment_runs``: who published an as-of date's memberships, with what."""

    as_of_date: dt.date
    run_id: str
    model_version: str
    dataset: str
    count_segments: int
    count_customers: int
    input_fingerprint: str
    silhouette: float | None
    bootstrap_stability: float | None
    smallest_segment_share: float
    names_supported: bool
    retrained: bool

    def to_json_types(self) -> dict:
        """The record as JSON types (the date as YYYY-MM-DD)."""
        return asdict(self) | {"as_of_date": self.as_of_date.isoformat()}


def run_record(
    *,
    as_of_date: dt.date,
    run_id: str,
    model_version: str,
    dataset: str,
    segmenter: CustomerSegmenter,
    labels: np.ndarray,
    input_fingerprint: str,
    silhouette: float | None,
    bootstrap_stability: float | None,
    retrained: bool,
) -> RunRecord:
    """The record of an as-of date segmented by ``segmenter`` into ``labels``."""
    counts = np.array([np.count_nonzero(labels == sid) for sid in segmenter.segment_ids_])
    return RunRecord(
        as_of_date=as_of_date,
        run_id=run_id,
        model_version=model_version,
        dataset=dataset,
        count_segments=len(segmenter.segment_ids_),
        count_customers=len(labels),
        input_fingerprint=input_fingerprint,
        silhouette=silhouette,
        bootstrap_stability=bootstrap_stability,
        smallest_segment_share=round(float(counts.min()) / len(labels), 6) if len(labels) else 0.0,
        names_supported=not list(segmenter.unsupported_names()),
        retrained=retrained,
    )


def history_env(
    source: HistorySource,
    records: Sequence[RunRecord] = (),
    backfill_dates: Sequence[dt.date] = (),
) -> Mapping[str, str]:
    """The environment variables that hand a batch to the history models."""
    return {
        HISTORY_SOURCE_ENV: source,
        RUN_RECORDS_ENV: json.dumps([record.to_json_types() for record in records]),
        BACKFILL_DATES_ENV: json.dumps([day.isoformat() for day in backfill_dates]),
    }


def record_of_run(
    document: Mapping, fitted: FittedSegments, features: CustomerFeatures, identity: RunIdentity
) -> RunRecord:
    """The run's row of ``segment_runs``: its as-of date, model version and quality figures."""
    if features.as_of_date is None:
        raise ModelIntegrityError("The warehouse's features carry no as-of date.")
    stability = None
    if fitted.selection is not None:
        stability = next(
            evaluation.stability_ari_mean
            for evaluation in fitted.selection.evaluations
            if evaluation.k == fitted.n_segments
        )
    return run_record(
        as_of_date=features.as_of_date,
        run_id=identity.run_id,
        model_version=document["integrity"]["sha256"],
        dataset=identity.dataset,
        segmenter=fitted.segmenter,
        labels=fitted.labels,
        input_fingerprint=features.fingerprint,
        silhouette=fitted.metrics.get("silhouette"),
        bootstrap_stability=stability,
        retrained=fitted.retrained,
    )
