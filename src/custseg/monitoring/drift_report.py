"""A drift comparison's figures, and the thresholds that turn them into alarms.

:mod:`custseg.monitoring.drift` computes a :class:`DriftReport` (its module docstring gives each
measure's formula); :meth:`DriftReport.alarms` says which thresholds of :class:`DriftThresholds`
(the ``drift_*`` settings) it passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from custseg.settings import Settings


@dataclass(frozen=True)
class DriftThresholds:
    """When drift raises an alarm (the ``drift_*`` settings)."""

    # A clustering feature's PSI above this.
    psi_alarm: float
    # A segment's share of customers moving by more than this (absolute).
    share_shift_alarm: float
    # Fewer than this share of the customers of both runs keeping their segment.
    kept_share_min: float

    @classmethod
    def from_settings(cls, settings: Settings) -> DriftThresholds:
        return cls(
            psi_alarm=settings.drift_psi_alarm,
            share_shift_alarm=settings.drift_share_shift_alarm,
            kept_share_min=settings.drift_kept_share_min,
        )


@dataclass(frozen=True)
class DriftAlarm:
    """One threshold a report passes."""

    # "psi", "segment_share_shift" or "kept_share".
    measure: str
    # The feature, the segment id (as text) or "customers in both runs".
    subject: str
    value: float
    threshold: float

    @property
    def message(self) -> str:
        if self.measure == "psi":
            return f"PSI of {self.subject} is {self.value:.3f}, above {self.threshold:g}"
        if self.measure == "segment_share_shift":
            return (
                f"share of segment {self.subject} moved by {self.value:+.1%}, more than "
                f"{self.threshold:.1%}"
            )
        return (
            f"{self.value:.1%} of the customers in both runs kept their segment, under "
            f"{self.threshold:.1%}"
        )


@dataclass(frozen=True)
class DriftReport:
    """The drift of one run against one reference (see the module docstring for each measure)."""

    # "training data" or "previous run" (custseg.monitoring.drift.TRAINING_DATA, PREVIOUS_RUN).
    against: str
    # Customers of the run compared.
    n_customers: int
    # Customers of the reference (None: not known).
    n_reference_customers: int | None
    # PSI per clustering feature (empty: not available).
    feature_psi: Mapping[str, float]
    # share_now - share_then per segment id (empty: not available).
    segment_share_shift: Mapping[int, float]
    # Share of the customers of both runs who kept their segment (None: not available).
    kept_share: float | None
    # Customers present in both runs (None: not available).
    n_customers_in_both: int | None
    # Per segment id, per clustering feature: centre now - centre then, original units.
    centroid_movement: Mapping[int, Mapping[str, float]]
    # What is not available and why, and how the bins were fixed when not by the model.
    notes: tuple[str, ...] = field(default=())

    @property
    def max_psi(self) -> float | None:
        return max(self.feature_psi.values()) if self.feature_psi else None

    @property
    def max_share_shift(self) -> float | None:
        """The largest absolute segment share shift."""
        shifts = self.segment_share_shift.values()
        return max(abs(shift) for shift in shifts) if shifts else None

    def alarms(self, thresholds: DriftThresholds) -> tuple[DriftAlarm, ...]:
        """The thresholds this report passes: PSI above ``psi_alarm``, an absolute share shift
        above ``share_shift_alarm``, a kept share below ``kept_share_min`` (strictly; a measure
        that is not available raises none)."""
        alarms = [
            DriftAlarm("psi", feature, psi, thresholds.psi_alarm)
            for feature, psi in self.feature_psi.items()
            if psi > thresholds.psi_alarm
        ]
        alarms += [
            DriftAlarm("segment_share_shift", str(sid), shift, thresholds.share_shift_alarm)
            for sid, shift in sorted(self.segment_share_shift.items())
            if abs(shift) > thresholds.share_shift_alarm
        ]
        if self.kept_share is not None and self.kept_share < thresholds.kept_share_min:
            alarms.append(
                DriftAlarm(
                    "kept_share",
                    "customers in both runs",
                    self.kept_share,
                    thresholds.kept_share_min,
                )
            )
        return tuple(alarms)

    def to_dict(self) -> dict[str, Any]:
        """JSON types: one list of rows per measure."""
        return {
            "against": self.against,
            "n_customers": self.n_customers,
            "n_reference_customers": self.n_reference_customers,
            "feature_psi": [{"feature": f, "psi": psi} for f, psi in self.feature_psi.items()],
            "segment_share_shift": [
                {"segment_id": sid, "share_shift": shift}
                for sid, shift in sorted(self.segment_share_shift.items())
            ],
            "max_share_shift": self.max_share_shift,
            "kept_share": self.kept_share,
            "n_customers_in_both": self.n_customers_in_both,
            "centroid_movement": [
                {"segment_id": sid, "feature": feature, "movement": movement}
                for sid, moves in sorted(self.centroid_movement.items())
                for feature, movement in moves.items()
            ],
            "notes": list(self.notes),
        }
